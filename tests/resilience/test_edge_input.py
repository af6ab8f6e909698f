"""Input at the edge of what can be represented answers 4xx, never 500 (issue 14, item 4):
calendar-edge dates on every API endpoint and page that takes a day, JSON nested 100,000 deep sent to every
JSON endpoint, and the same nesting inside an import file."""
from __future__ import annotations

import json
import re

import pytest

from tests.resilience.conftest import assert_problem

pytestmark = [pytest.mark.resilience]

EDGE_DAYS = ["0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01"]
RANGE_MESSAGE = ["Must be between 1900-01-01 and 2200-12-31."]
PERIOD_PATHS = ["/api/v1/history/tracks", "/api/v1/history/stats", "/api/v1/history/top/artists",
                "/api/v1/history/top/tracks", "/api/v1/history/sessions", "/api/v1/history/patterns",
                "/api/v1/analytics/listening-heatmap", "/api/v1/analytics/streaks", "/api/v1/analytics/discovery"]
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.backend_independent
@pytest.mark.parametrize("day", EDGE_DAYS)
@pytest.mark.parametrize("path", PERIOD_PATHS)
def test_edge_days_on_period_endpoints_are_422_naming_the_field(client, path, day):
    body = assert_problem(client.get(path, query_string={"start_date": day, "end_date": day}), 422)
    assert body["errors"] == {"start_date": RANGE_MESSAGE, "end_date": RANGE_MESSAGE}


@pytest.mark.backend_independent
@pytest.mark.parametrize("day", EDGE_DAYS)
def test_edge_days_on_timeline_and_compare_are_422_naming_the_field(client, day):
    body = assert_problem(client.get("/api/v1/history/timeline", query_string={"date": day}), 422)
    assert body["errors"] == {"date": RANGE_MESSAGE}
    compare = client.get("/api/v1/analytics/compare", query_string={
        "start_date": day, "end_date": "2024-01-31", "compare_start_date": "2023-01-01", "compare_end_date": day})
    assert assert_problem(compare, 422)["errors"] == {"start_date": RANGE_MESSAGE, "compare_end_date": RANGE_MESSAGE}


def test_the_first_and_last_accepted_days_answer(client):
    for day in ("1900-01-01", "2200-12-31"):
        timeline = client.get("/api/v1/history/timeline", query_string={"date": day, "tz": "Pacific/Kiritimati"})
        assert (timeline.status_code, timeline.get_json()["stats"]["total_tracks"]) == (200, 0)
        assert client.get(f"/timeline?date={day}").status_code == 200
    # Each edge day answers; a period spanning both is longer than AIME_MAX_RANGE_DAYS (bounded work, 422).
    for start, end in (("1900-01-01", "1900-01-31"), ("2200-12-01", "2200-12-31")):
        stats = client.get(f"/api/v1/history/stats?start_date={start}&end_date={end}&tz=Pacific/Pago_Pago")
        assert (stats.status_code, stats.get_json()["total_tracks"]) == (200, 0)
        assert client.get(f"/stats?start_date={start}&end_date={end}").status_code == 200


@pytest.mark.backend_independent
@pytest.mark.parametrize("url, field", [
    ("/timeline?date=9999-12-31", "date"), ("/timeline?date=0001-01-01", "date"),
    ("/stats?start_date=0001-01-01&end_date=9999-12-31", "start_date"),
    ("/stats?start_date=0001-01-01&end_date=9999-12-31", "end_date"),
    ("/journal?start_date=0001-01-01", "start_date"), ("/journal?end_date=9999-12-31", "end_date")])
def test_edge_days_on_pages_are_422_naming_the_field(client, url, field):
    response = client.get(url)
    assert response.status_code == 422
    assert f"{field}: Must be between 1900-01-01 and 2200-12-31." in response.get_data(as_text=True)


def _json_operations(client) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document that takes a JSON body (path ids filled with 1)."""
    spec = client.get("/api/v1/openapi.json").get_json()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "patch", "delete") and \
                    "application/json" in operation.get("requestBody", {}).get("content", {}):
                found.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return found


@pytest.mark.backend_independent
def test_json_nested_100000_deep_is_400_on_every_json_endpoint(client, auth):
    operations = _json_operations(client)
    assert len(operations) >= 10, operations
    for method, path in operations:
        response = client.open(path, method=method.upper(), data=DEEP, content_type="application/json",
                               headers=auth)
        body = assert_problem(response, 400)
        assert body["detail"] == "The JSON body is nested too deeply.", (method, path)


@pytest.mark.backend_independent
@pytest.mark.parametrize("path", ["/1/submit-listens", "/apis/listenbrainz/1/submit-listens"])
def test_json_nested_100000_deep_to_listenbrainz_is_its_400(client, auth, path):
    token = {"Authorization": auth["Authorization"].replace("Bearer", "Token")}
    response = client.post(path, data=DEEP, content_type="application/json", headers=token)
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "Cannot parse JSON document: nested too deeply."})


LISTEN = {"listened_at": 1699650251, "track_metadata": {"artist_name": "A", "track_name": "T"}}


def test_import_file_with_a_value_nested_100000_deep_reports_the_line(app, tmp_path):
    from aime.jobs import imports

    second = dict(LISTEN, listened_at=LISTEN["listened_at"] + 600)
    path = tmp_path / "listens.json"
    path.write_text("[\n" + json.dumps(LISTEN) + ",\n" + json.dumps(second) + ",\n" + DEEP + "\n]\n", encoding="utf-8")
    with app.app_context():
        report = imports.run_job(imports.create_file_job(path, None))
    assert (report["status"], report["imported"]) == ("failed", 2)
    assert report["errors"][-1] == {"line": 4, "error": "invalid JSON: a value is nested too deeply"}
    assert "internal error" not in (report.get("message") or "")
