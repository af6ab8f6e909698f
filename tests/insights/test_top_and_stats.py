"""Top lists and period statistics on the hand-made history (see conftest.py for the table)."""
from __future__ import annotations

from .conftest import get_ok

ZRH = "Europe/Zurich"


def _names(items):
    return [(i["name"], i["plays"], i["duration_seconds"]) for i in items]


def test_top_artists_all_time_by_plays_and_by_time(client, history):
    # Alpha: p1 p2 p4 p7 p8 = 5 plays, 3x200 + 2x300 = 1200 s; Beta: 3 x 240 = 720; Gamma: 2 x 1200 = 2400;
    # Delta: 1 play of unknown length = 0 s.
    by_plays = get_ok(client, "/api/v1/history/top/artists", tz=ZRH)
    assert _names(by_plays["items"]) == [("Alpha", 5, 1200), ("Beta", 3, 720), ("Gamma", 2, 2400), ("Delta", 1, 0)]
    by_time = get_ok(client, "/api/v1/history/top/artists", by="duration")
    assert _names(by_time["items"]) == [("Gamma", 2, 2400), ("Alpha", 5, 1200), ("Beta", 3, 720), ("Delta", 1, 0)]


def test_top_albums_and_tracks_all_time(client, history):
    albums = get_ok(client, "/api/v1/history/top/albums", limit=2)["items"]
    assert [(a["name"], a["artist"], a["plays"]) for a in albums] == [("Album A", "Alpha", 5), ("Album B", "Beta", 3)]
    # Ties on plays are broken by listening time: Beta One (3, 720 s) before Alpha One (3, 600 s).
    tracks = get_ok(client, "/api/v1/history/top/tracks")["items"]
    assert _names(tracks) == [("Beta One", 3, 720), ("Alpha One", 3, 600), ("Gamma Long", 2, 2400),
                              ("Alpha Two", 2, 600), ("Delta One", 1, 0)]
    by_time = get_ok(client, "/api/v1/history/top/tracks", by="duration")["items"]
    assert [t["name"] for t in by_time] == ["Gamma Long", "Beta One", "Alpha One", "Alpha Two", "Delta One"]


def test_a_local_day_in_zurich_is_not_the_utc_day(client, history):
    # Saturday 6 January in Zurich = 5 Jan 23:00Z .. 6 Jan 23:00Z: p3 (Beta), p4 (Alpha), p5 (Gamma), p6 (Beta).
    zurich = get_ok(client, "/api/v1/history/top/artists", start_date="2024-01-06", end_date="2024-01-06", tz=ZRH)
    assert _names(zurich["items"]) == [("Beta", 2, 480), ("Gamma", 1, 1200), ("Alpha", 1, 200)]
    by_time = get_ok(client, "/api/v1/history/top/artists", start_date="2024-01-06", end_date="2024-01-06",
                     tz=ZRH, by="duration")
    assert [i["name"] for i in by_time["items"]] == ["Gamma", "Beta", "Alpha"]
    # The same calendar day in UTC holds only p5 and p6.
    utc = get_ok(client, "/api/v1/history/top/artists", start_date="2024-01-06", end_date="2024-01-06", tz="UTC")
    # Equal plays: more listening time first.
    assert _names(utc["items"]) == [("Gamma", 1, 1200), ("Beta", 1, 240)]


def test_history_stats_all_time_and_period(client, history):
    stats = get_ok(client, "/api/v1/history/stats", tz=ZRH)
    # 11 plays; 4 artists; 3 albums (Delta One has none); 5 tracks; 1200 + 720 + 2400 + 0 seconds.
    assert (stats["total_tracks"], stats["unique_artists"], stats["unique_albums"], stats["unique_tracks"],
            stats["total_duration_seconds"]) == (11, 4, 3, 5, 4320)
    # Zurich hours: 23 h has p1 p2 p9 p10 (4); 0 h has p3 p4 p11 (3).
    assert stats["peak_hour"] == 23
    # In UTC 22 h has p1 p2 p9 (3), 23 h has p3 p4 p11 (3): the earlier hour wins the tie.
    assert get_ok(client, "/api/v1/history/stats", tz="UTC")["peak_hour"] == 22
    day = get_ok(client, "/api/v1/history/stats", start_date="2024-01-06", end_date="2024-01-06", tz=ZRH)
    assert (day["total_tracks"], day["unique_artists"], day["total_duration_seconds"]) == (4, 3, 480 + 200 + 1200)
    assert day["peak_hour"] == 0  # 0 h (p3, p4) ties 15 h (p5, p6) 2-2: the earlier hour wins
    assert [a["name"] for a in day["top_artists"]] == ["Beta", "Gamma", "Alpha"]


def test_empty_period_and_empty_database(client, history):
    empty = get_ok(client, "/api/v1/history/stats", start_date="2023-01-01", end_date="2023-12-31")
    assert (empty["total_tracks"], empty["peak_hour"], empty["top_artists"]) == (0, None, [])
    assert get_ok(client, "/api/v1/history/top/tracks", start_date="2030-01-01")["items"] == []
