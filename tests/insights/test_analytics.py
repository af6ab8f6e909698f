"""Sessions, patterns, heatmap, streaks, discovery and comparison, worked out by hand (see conftest.py)."""
from __future__ import annotations

from .conftest import get_ok

ZRH = "Europe/Zurich"


def test_sessions_cross_midnight_in_zurich(client, history):
    page = get_ok(client, "/api/v1/history/sessions", tz=ZRH)
    # S1 p1..p4: starts 22:40Z, A1 of p4 ends 23:30 + 200 s = 23:33:20Z -> 3200 s; silences 1:40, 15, 21 min.
    # S2 p5 p6: C1 ends 14:20, p6 at 14:45 (25 min), B1 ends 14:49 -> 2940 s.
    # S3 p7 (300 s) and S4 p8 (200 s): 35 min of silence between 09:05 and 09:40 splits them.
    # S5 p9 (240 s), S7 p11 (unknown length: 0 s), S6 p10 (1200 s).
    assert page["total"] == 7
    assert page["longest_duration_seconds"] == 3200
    assert page["average_duration_seconds"] == round((3200 + 2940 + 300 + 200 + 240 + 0 + 1200) / 7)  # 1154
    items = page["items"]  # newest first
    assert [(s["start"], s["tracks"], s["duration_seconds"]) for s in items] == [
        ("2024-07-01T21:30:00Z", 1, 1200), ("2024-01-31T23:30:00Z", 1, 0), ("2024-01-09T22:50:00Z", 1, 240),
        ("2024-01-07T09:40:00Z", 1, 200), ("2024-01-07T09:00:00Z", 1, 300), ("2024-01-06T14:00:00Z", 2, 2940),
        ("2024-01-05T22:40:00Z", 4, 3200)]
    first = items[-1]
    assert first["end"] == "2024-01-05T23:33:20Z" and first["artists"] == 2
    # The first session starts on Friday evening and ends after midnight, local time.
    assert first["start_local"] == "2024-01-05T23:40:00+01:00"
    assert first["end_local"] == "2024-01-06T00:33:20+01:00"
    assert items[0]["start_local"] == "2024-07-01T23:30:00+02:00"  # summer time


def test_sessions_of_one_local_day_and_a_longer_gap(client, history):
    # Saturday 6 Jan in Zurich starts at 5 Jan 23:00Z: p3 p4 (23:05 -> 23:33:20Z, 1700 s), then p5 p6.
    day = get_ok(client, "/api/v1/history/sessions", tz=ZRH, start_date="2024-01-06", end_date="2024-01-06")
    assert [(s["start"], s["tracks"], s["duration_seconds"]) for s in day["items"]] == [
        ("2024-01-06T14:00:00Z", 2, 2940), ("2024-01-05T23:05:00Z", 2, 1700)]
    # With one hour allowed, p7 and p8 (35 min apart) are one session: 09:00 -> 09:43:20 = 2600 s.
    longer = get_ok(client, "/api/v1/history/sessions", min_gap=3600, start_date="2024-01-07",
                    end_date="2024-01-07", tz=ZRH)
    assert [(s["tracks"], s["duration_seconds"]) for s in longer["items"]] == [(2, 2600)]
    paged = get_ok(client, "/api/v1/history/sessions", page=2, page_size=3)
    assert (paged["page"], paged["page_size"], paged["pages"]) == (2, 3, 3)  # the one paging shape: 7 in pages of 3
    assert paged["total"] == 7 and [s["start"] for s in paged["items"]] == [
        "2024-01-07T09:40:00Z", "2024-01-07T09:00:00Z", "2024-01-06T14:00:00Z"]


def test_patterns_in_zurich(client, history):
    body = get_ok(client, "/api/v1/history/patterns", tz=ZRH)
    hours = {h["hour"]: h["plays"] for h in body["by_hour"] if h["plays"]}
    # 23 h: p1 p2 p9 p10 (July, CEST); 0 h: p3 p4 p11; 15 h: p5 p6; 10 h: p7 p8.
    assert hours == {23: 4, 0: 3, 15: 2, 10: 2}
    weekdays = {d["weekday"]: d["plays"] for d in body["by_weekday"] if d["plays"]}
    assert weekdays == {"Friday": 2, "Saturday": 4, "Sunday": 2, "Tuesday": 1, "Monday": 1, "Thursday": 1}
    assert (body["peak_hour"], body["peak_weekday"]) == (23, "Saturday")
    # 5 Jan .. 1 Jul 2024: 27 + 29 + 31 + 30 + 31 + 30 + 1 = 179 days; active: 5, 6, 7, 9 Jan, 1 Feb, 1 Jul.
    assert (body["total_plays"], body["days"], body["active_days"]) == (11, 179, 6)
    assert body["daily_average"] == round(11 / 179, 2)
    # Sessions with more than one artist: S1 {Alpha, Beta}, S2 {Gamma, Beta}.
    assert body["artist_pairs"] == [{"artists": ["Alpha", "Beta"], "sessions": 1},
                                    {"artists": ["Beta", "Gamma"], "sessions": 1}]


def test_patterns_of_a_period_use_its_days(client, history):
    body = get_ok(client, "/api/v1/history/patterns", tz=ZRH, start_date="2024-01-05", end_date="2024-01-09")
    # p1..p9 over 5 local days (4 of them with plays).
    assert (body["total_plays"], body["days"], body["active_days"], body["daily_average"]) == (9, 5, 4, 1.8)
    utc = get_ok(client, "/api/v1/history/patterns", tz="UTC")
    assert {h["hour"]: h["plays"] for h in utc["by_hour"] if h["plays"]} == {22: 3, 23: 3, 14: 2, 9: 2, 21: 1}


def test_heatmap(client, history):
    body = get_ok(client, "/api/v1/analytics/listening-heatmap", tz=ZRH)
    assert body["weekdays"][0] == "Monday" and len(body["matrix"]) == 7 and all(len(r) == 24 for r in body["matrix"])
    cells = {(d, h): n for d, row in enumerate(body["matrix"]) for h, n in enumerate(row) if n}
    assert cells == {(4, 23): 2, (5, 0): 2, (5, 15): 2, (6, 10): 2, (1, 23): 1, (0, 23): 1, (3, 0): 1}
    assert (body["max"], body["total"]) == (2, 11)
    utc = get_ok(client, "/api/v1/analytics/listening-heatmap", tz="UTC")
    cells = {(d, h): n for d, row in enumerate(utc["matrix"]) for h, n in enumerate(row) if n}
    # p11 is Wednesday 31 Jan 23:30 in UTC but Thursday 1 Feb in Zurich.
    assert cells == {(4, 22): 2, (4, 23): 2, (5, 14): 2, (6, 9): 2, (1, 22): 1, (0, 21): 1, (2, 23): 1}


def test_streaks(client, history):
    body = get_ok(client, "/api/v1/analytics/streaks", tz=ZRH, end_date="2024-07-02")
    assert body["active_days"] == 6
    assert body["longest"] == {"days": 3, "start": "2024-01-05", "end": "2024-01-07"}
    # 1 July had plays and the period ends the next day: that run is still current.
    assert body["current"] == {"days": 1, "start": "2024-07-01", "end": "2024-07-01"}
    later = get_ok(client, "/api/v1/analytics/streaks", tz=ZRH, end_date="2024-07-05")
    assert later["current"] == {"days": 0, "start": None, "end": None}
    january = get_ok(client, "/api/v1/analytics/streaks", tz=ZRH, start_date="2024-01-06", end_date="2024-01-07")
    assert january["longest"]["days"] == 2 and january["current"]["days"] == 2


def test_discovery_by_local_month(client, history):
    body = get_ok(client, "/api/v1/analytics/discovery", tz=ZRH)
    # Delta's first play (31 Jan 23:30Z) is in February in Zurich.
    assert [(m["month"], m["new_artists"], m["new_albums"]) for m in body["months"]] == [("2024-01", 3, 3),
                                                                                        ("2024-02", 1, 0)]
    january = body["months"][0]
    assert january["artists"] == ["Alpha", "Beta", "Gamma"]  # order of first play
    assert [a["title"] for a in january["albums"]] == ["Album A", "Album B", "Album C"]
    assert body["months"][1]["artists"] == ["Delta"]
    assert (body["total_new_artists"], body["total_new_albums"]) == (4, 3)
    utc = get_ok(client, "/api/v1/analytics/discovery", tz="UTC")
    assert [(m["month"], m["new_artists"]) for m in utc["months"]] == [("2024-01", 4)]
    february = get_ok(client, "/api/v1/analytics/discovery", tz=ZRH, start_date="2024-02-01")
    assert [m["artists"] for m in february["months"]] == [["Delta"]]


def test_compare_two_periods(client, history):
    body = get_ok(client, "/api/v1/analytics/compare", tz=ZRH, start_date="2024-01-06", end_date="2024-01-07",
                  compare_start_date="2024-01-08", compare_end_date="2024-01-10")
    now, before, changes = body["period"], body["baseline"], body["changes"]
    # 6-7 Jan (Zurich): p3 B1, p4 A1, p5 C1, p6 B1, p7 A2, p8 A1 = 6 plays, 2x240 + 2x200 + 1200 + 300 s.
    assert (now["total_tracks"], now["total_duration_seconds"], now["unique_artists"], now["active_days"]) == \
        (6, 2380, 3, 2)
    assert (before["total_tracks"], before["total_duration_seconds"], before["unique_artists"]) == (1, 240, 1)
    assert changes == {"plays": 5, "plays_percent": 500.0, "duration_seconds": 2140,
                       "duration_percent": round(2140 * 100 / 240, 1), "unique_artists": 2,
                       "artists_in_common": 1, "new_artists": 2, "dropped_artists": 0}


def test_the_rollups_follow_new_plays(client, auth, history):
    before = get_ok(client, "/api/v1/history/top/artists")["items"][1]
    assert (before["name"], before["plays"]) == ("Beta", 3)
    response = client.post("/api/v1/history/tracks", headers=auth, json={
        "artist": "Beta", "title": "Beta One", "album": "Album B", "played_at": "2024-01-10T12:00:00Z"})
    assert response.status_code == 201
    assert get_ok(client, "/api/v1/history/top/artists")["items"][1]["plays"] == 4
    assert get_ok(client, "/api/v1/history/stats")["total_tracks"] == 12


def test_the_day_summer_time_ends_has_25_hours(client, auth):
    # 27 Oct 2024 in Zurich runs from 26 Oct 22:00Z to 27 Oct 23:00Z; 02:00-03:00 local happens twice.
    plays = [("2024-10-27T00:30:00Z", "Early"),  # 02:30 CEST
             ("2024-10-27T01:30:00Z", "Again"),  # 02:30 CET, the repeated hour
             ("2024-10-27T22:30:00Z", "Late")]   # 23:30 CET, still 27 Oct
    for played_at, title in plays:
        response = client.post("/api/v1/history/tracks", headers=auth, json={
            "artist": "Clock", "title": title, "duration_seconds": 600, "played_at": played_at})
        assert response.status_code == 201
    body = get_ok(client, "/api/v1/history/patterns", tz=ZRH, start_date="2024-10-27", end_date="2024-10-27")
    assert {h["hour"]: h["plays"] for h in body["by_hour"] if h["plays"]} == {2: 2, 23: 1}
    assert (body["total_plays"], body["days"], body["active_days"]) == (3, 1, 1)
    # 00:40Z -> 01:30Z is 50 minutes of silence: three sessions of 600 s each.
    sessions = get_ok(client, "/api/v1/history/sessions", tz=ZRH, start_date="2024-10-27", end_date="2024-10-27")
    assert [(s["start_local"], s["duration_seconds"]) for s in sessions["items"]] == [
        ("2024-10-27T23:30:00+01:00", 600), ("2024-10-27T02:30:00+01:00", 600), ("2024-10-27T02:30:00+02:00", 600)]
    assert get_ok(client, "/api/v1/history/stats", tz=ZRH, start_date="2024-10-28")["total_tracks"] == 0
