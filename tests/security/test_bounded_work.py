"""Issue 15 item 4: anonymous clients cannot ask for unbounded work: date ranges are capped, and paid AI calls
are cached and limited per address across workers (429 problem+json with Retry-After)."""
from __future__ import annotations

import pytest

from tests.ai.conftest import CHAT, completion, with_ai
from tests.conftest import TEST_TOKEN

HAIKU = "Ice and trumpet blue\nHunter walks the frozen street\nSo what, says the night"


@pytest.mark.parametrize("path", [
    "/api/v1/history/stats?start_date=1900-01-01&end_date=2200-12-31",
    "/api/v1/analytics/compare?start_date=1900-01-01&end_date=2200-12-31"
    "&compare_start_date=2023-01-01&compare_end_date=2023-12-31",
    "/api/v1/analytics/listening-heatmap?start_date=1900-01-01",
])
def test_huge_date_ranges_are_refused_before_any_work(client, path):
    response = client.get(path)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "at most 9200 (AIME_MAX_RANGE_DAYS) per request" in response.get_json()["detail"]


def test_stats_page_refuses_a_huge_range(client):
    response = client.get("/stats?start_date=1900-01-01&end_date=2200-12-31")
    assert response.status_code == 422
    assert "AIME_MAX_RANGE_DAYS" in response.get_data(as_text=True)


def test_a_range_within_the_cap_still_works(client):
    assert client.get("/api/v1/history/stats?start_date=2000-01-01&end_date=2024-12-31").status_code == 200


@pytest.fixture
def ai_processes(app, httpserver, app_factory):
    """Two AI-enabled apps on one database (two workers), anonymous budget of 3 AI calls an hour."""
    config = with_ai(app.extensions["aime.config"], httpserver).replace(ai_anonymous_per_hour=3)
    made = [app_factory(config), app_factory(config)]
    for application in made:
        application.config["TESTING"] = True
    httpserver.expect_request(CHAT, method="POST").respond_with_json(completion(HAIKU))
    return made


def test_anonymous_haiku_calls_are_limited_across_workers(ai_processes, httpserver):
    first, second = (application.test_client() for application in ai_processes)
    answers = [client.get(f"/api/v1/history/haiku?days={days}").status_code
               for client, days in ((first, 1), (second, 2), (first, 3))]
    assert answers == [200, 200, 200]
    refused = second.get("/api/v1/history/haiku?days=4")
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert "Anonymous callers may cause 3 AI calls per hour" in refused.get_json()["detail"]
    assert len(httpserver.log) == 3  # the refused request cost nothing
    # A cached answer costs nothing, so it is still served; the token holder is not limited.
    assert first.get("/api/v1/history/haiku?days=1").status_code == 200
    assert second.get("/api/v1/history/haiku?days=5",
                      headers={"Authorization": f"Bearer {TEST_TOKEN}"}).status_code == 200
    assert len(httpserver.log) == 4
