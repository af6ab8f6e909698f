"""Conditional GETs of the statistics, top lists and timeline: 304 on repeat, a new play seen by the next read,
answers never shared between query strings or between days."""
from __future__ import annotations


import pytest

from aime.api import conditional
from aime.services import history as history_service
from tests.factories import add_listen
from tests.support.clock import freeze_now
from tests.support.conditional import assert_answers_304_on_repeat, assert_revalidated_after_a_write

PLAYED = "2023-11-14T22:13:20Z"  # 1,700,000,000: 22:13 in UTC, 2023-11-15 03:43 in Asia/Kolkata
LATER = "2023-11-14T22:23:20Z"
DAY = "start_date=2023-11-14&end_date=2023-11-14&tz=UTC"
PATHS = [f"/api/v1/history/stats?{DAY}", "/api/v1/history/stats", f"/api/v1/history/top/artists?{DAY}",
         "/api/v1/history/top/tracks", "/api/v1/history/timeline?date=2023-11-14&tz=UTC"]


@pytest.fixture
def played(client, auth):
    """One play of Björk's Hunter."""
    return add_listen(client, auth, "Björk", "Hunter", PLAYED, album="Homogenic")


def test_each_statistics_read_answers_304_on_repeat(client, played):
    etags = {assert_answers_304_on_repeat(client, path) for path in PATHS}
    assert len(etags) == len(PATHS)


def test_a_new_play_makes_the_next_read_200_with_the_new_value_and_a_new_etag(client, auth, played):
    paths = {"stats": f"/api/v1/history/stats?{DAY}", "top": f"/api/v1/history/top/artists?{DAY}",
             "timeline": "/api/v1/history/timeline?date=2023-11-14&tz=UTC"}
    before = {name: client.get(path) for name, path in paths.items()}
    assert before["stats"].get_json()["total_tracks"] == 1
    assert [(i["name"], i["plays"]) for i in before["top"].get_json()["items"]] == [("Björk", 1)]
    assert [i["title"] for i in before["timeline"].get_json()["hours"]["22"]] == ["Hunter"]
    add_listen(client, auth, "Air", "Kelly Watch the Stars", LATER)
    by_path = assert_revalidated_after_a_write(client, {paths[name]: r for name, r in before.items()})
    after = {name: by_path[path] for name, path in paths.items()}
    stats = after["stats"].get_json()
    assert (stats["total_tracks"], stats["unique_artists"], stats["unique_albums"]) == (2, 2, 1)
    assert [(i["name"], i["plays"]) for i in after["top"].get_json()["items"]] == [("Air", 1), ("Björk", 1)]
    timeline = after["timeline"].get_json()
    assert [i["title"] for i in timeline["hours"]["22"]] == ["Hunter", "Kelly Watch the Stars"]
    assert timeline["stats"] == {"total_tracks": 2, "unique_artists": 2, "unique_albums": 1, "peak_hour": 22}


def test_two_query_strings_never_share_an_answer(client, auth, played):
    add_listen(client, auth, "Air", "Kelly Watch the Stars", LATER)
    add_listen(client, auth, "Air", "Sexy Boy", "2023-11-14T23:00:00Z")
    utc = client.get("/api/v1/history/timeline?date=2023-11-14&tz=UTC")
    kolkata = client.get("/api/v1/history/timeline?date=2023-11-14&tz=Asia/Kolkata")
    next_day = client.get("/api/v1/history/timeline?date=2023-11-15&tz=Asia/Kolkata")
    assert utc.get_json()["stats"]["total_tracks"] == 3
    assert kolkata.get_json()["stats"] == {"total_tracks": 0, "unique_artists": 0, "unique_albums": 0,
                                           "peak_hour": None}
    assert [i["title"] for i in next_day.get_json()["hours"]["3"]] == ["Hunter", "Kelly Watch the Stars"]
    assert [i["title"] for i in next_day.get_json()["hours"]["4"]] == ["Sexy Boy"]
    one = client.get(f"/api/v1/history/top/artists?{DAY}&limit=1")
    two = client.get(f"/api/v1/history/top/artists?{DAY}&limit=2")
    assert [(i["name"], i["plays"]) for i in one.get_json()["items"]] == [("Air", 2)]
    assert [(i["name"], i["plays"]) for i in two.get_json()["items"]] == [("Air", 2), ("Björk", 1)]
    etags = {r.headers["ETag"] for r in (utc, kolkata, next_day, one, two)}
    assert len(etags) == 5
    # An ETag of one query string does not validate another.
    assert client.get(f"/api/v1/history/top/artists?{DAY}&limit=2",
                      headers={"If-None-Match": one.headers["ETag"]}).status_code == 200


def test_the_default_day_is_not_kept_past_midnight(client, played, monkeypatch):
    """Same URL, same data, another day: the timeline without a date is today's, not the cached yesterday's."""
    path = "/api/v1/history/timeline?tz=UTC"
    freeze_now(monkeypatch, "2023-11-14T23:59:00+00:00", conditional, history_service)
    first = client.get(path)
    assert (first.get_json()["date"], first.get_json()["stats"]["total_tracks"]) == ("2023-11-14", 1)
    freeze_now(monkeypatch, "2023-11-15T00:01:00+00:00", conditional, history_service)
    second = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.headers["ETag"] != first.headers["ETag"]
    assert (second.get_json()["date"], second.get_json()["stats"]["total_tracks"]) == ("2023-11-15", 0)


def test_an_invalid_zone_is_a_422_without_etag(client, played):
    bad = client.get("/api/v1/history/stats?tz=Mars/Olympus")
    assert bad.status_code == 422 and "ETag" not in bad.headers


@pytest.mark.backend_independent
def test_openapi_documents_the_304(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/history/stats", "/api/v1/history/top/{kind}", "/api/v1/history/timeline"):
        assert "304" in spec["paths"][path]["get"]["responses"], path
