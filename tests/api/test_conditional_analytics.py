"""Conditional GETs of sessions, patterns and /analytics/*: 304 on repeat, a new play seen by the next read with
the exact new value, answers never shared between query strings, streaks never kept past midnight."""
from __future__ import annotations


import pytest

from aime.api import conditional
from aime.services import analytics as analytics_service
from tests.factories import add_listen
from tests.support.clock import freeze_now
from tests.support.conditional import assert_answers_304_on_repeat, assert_revalidated_after_a_write

PLAYED = "2023-11-14T22:13:20Z"  # a Tuesday, 22:13 in UTC
LATER = "2023-11-14T22:23:20Z"  # ten minutes later: the same session
DAY = "start_date=2023-11-14&end_date=2023-11-14&tz=UTC"
COMPARE = ("start_date=2023-11-14&end_date=2023-11-14&compare_start_date=2023-11-13&compare_end_date=2023-11-13"
           "&tz=UTC")
PATHS = {"sessions": f"/api/v1/history/sessions?{DAY}", "patterns": f"/api/v1/history/patterns?{DAY}",
         "heatmap": f"/api/v1/analytics/listening-heatmap?{DAY}", "streaks": f"/api/v1/analytics/streaks?{DAY}",
         "discovery": f"/api/v1/analytics/discovery?{DAY}", "compare": f"/api/v1/analytics/compare?{COMPARE}"}


@pytest.fixture
def played(client, auth):
    """One play of Björk's Hunter."""
    return add_listen(client, auth, "Björk", "Hunter", PLAYED, album="Homogenic")


def _values(name: str, body: dict):
    """The number each read must change when the second play arrives."""
    return {"sessions": lambda: (body["total"], body["items"][0]["tracks"], body["items"][0]["artists"]),
            "patterns": lambda: (body["total_plays"], body["by_hour"][22]["plays"], body["by_weekday"][1]["plays"]),
            "heatmap": lambda: (body["total"], body["matrix"][1][22]),
            "streaks": lambda: (body["active_days"], body["longest"]["days"]),
            "discovery": lambda: (body["total_new_artists"], sorted(body["months"][0]["artists"])),
            "compare": lambda: (body["period"]["total_tracks"], body["changes"]["plays"])}[name]()


def test_each_analytics_read_answers_304_on_repeat(client, played):
    etags = {assert_answers_304_on_repeat(client, path) for path in PATHS.values()}
    assert len(etags) == len(PATHS)


def test_a_new_play_makes_the_next_read_200_with_the_new_value_and_a_new_etag(client, auth, played):
    before = {name: client.get(path) for name, path in PATHS.items()}
    assert {name: _values(name, r.get_json()) for name, r in before.items()} == {
        "sessions": (1, 1, 1), "patterns": (1, 1, 1), "heatmap": (1, 1), "streaks": (1, 1),
        "discovery": (1, ["Björk"]), "compare": (1, 1)}
    add_listen(client, auth, "Air", "Kelly Watch the Stars", LATER)
    by_path = assert_revalidated_after_a_write(client, {PATHS[name]: r for name, r in before.items()})
    after = {name: by_path[path] for name, path in PATHS.items()}
    assert {name: _values(name, r.get_json()) for name, r in after.items()} == {
        "sessions": (1, 2, 2), "patterns": (2, 2, 2), "heatmap": (2, 2), "streaks": (1, 1),
        "discovery": (2, ["Air", "Björk"]), "compare": (2, 2)}


def test_two_query_strings_never_share_an_answer(client, auth, played):
    add_listen(client, auth, "Air", "Kelly Watch the Stars", LATER)
    add_listen(client, auth, "Air", "Sexy Boy", "2023-11-15T05:00:00Z")  # the next day, a session of its own
    one = client.get(f"/api/v1/analytics/streaks?{DAY}")
    two = client.get("/api/v1/analytics/streaks?start_date=2023-11-14&end_date=2023-11-15&tz=UTC")
    assert (one.get_json()["longest"]["days"], two.get_json()["longest"]["days"]) == (1, 2)
    wide = client.get("/api/v1/history/sessions?start_date=2023-11-14&end_date=2023-11-15&tz=UTC")
    split = client.get("/api/v1/history/sessions?start_date=2023-11-14&end_date=2023-11-15&tz=UTC&min_gap=300")
    assert (wide.get_json()["total"], split.get_json()["total"]) == (2, 3)
    etags = {r.headers["ETag"] for r in (one, two, wide, split)}
    assert len(etags) == 4
    # An ETag of one query string does not validate another.
    assert client.get("/api/v1/history/sessions?start_date=2023-11-14&end_date=2023-11-15&tz=UTC&min_gap=300",
                      headers={"If-None-Match": wide.headers["ETag"]}).status_code == 200


def test_the_current_streak_is_not_kept_past_midnight(client, played, monkeypatch):
    """Same URL, same data, another day: the run that ended yesterday is current, the day after it is not."""
    path = "/api/v1/analytics/streaks?start_date=2023-11-01&tz=UTC"
    freeze_now(monkeypatch, "2023-11-15T23:59:00+00:00", conditional, analytics_service)
    first = client.get(path)
    assert first.get_json()["current"] == {"days": 1, "start": "2023-11-14", "end": "2023-11-14"}
    freeze_now(monkeypatch, "2023-11-16T00:01:00+00:00", conditional, analytics_service)
    second = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.headers["ETag"] != first.headers["ETag"]
    assert second.get_json()["current"] == {"days": 0, "start": None, "end": None}


@pytest.mark.backend_independent
def test_openapi_documents_the_304(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/history/sessions", "/api/v1/history/patterns", "/api/v1/analytics/listening-heatmap",
                 "/api/v1/analytics/streaks", "/api/v1/analytics/discovery", "/api/v1/analytics/compare"):
        assert "304" in spec["paths"][path]["get"]["responses"], path
