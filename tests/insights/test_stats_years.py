"""Statistics of a span of several years, from the per-group year and all-time rollups, worked out by hand.

 play  UTC                  Asia/Kolkata (UTC+5:30)   track (artist, title, album, seconds)
 e1-3  2020-03-01..03 12:00 2020-03-01..03 17:30      E (ar z, song 4, alb r, 50): played in 2020 only
 p1    2020-06-01 12:00     2020-06-01 17:30          A (ar x, song 1, alb p, 100)
 p2    2020-12-31 20:00     2021-01-01 01:30          C (ar y, song 3, alb q, 300)
 p3    2021-03-01 12:00     2021-03-01 17:30          A
 p4    2021-07-01 12:00     2021-07-01 17:30          B (ar x, song 2, alb p, 200)
 p5    2022-02-02 12:00     2022-02-02 17:30          A
 p6    2022-12-31 20:00     2023-01-01 01:30          D (ar y, song 1, no album, unknown length)
 p7    2023-05-05 12:00     2023-05-05 17:30          C
 p8    2024-01-01 00:00     2024-01-01 05:30          B
 p9    2024-08-08 12:00     2024-08-08 17:30          D

The plays span the UTC years 2020-2024. 2021-2022 in UTC is the sum of two year rows (fewer years than the three
outside it); 2021-2024 is all time minus 2020 (all time's most played track and artist, E, has no play left in it);
2021-2022 in Asia/Kolkata is two year rows plus the 5.5 hours of listens before 2021 minus those before 2023.
"""
from __future__ import annotations

from datetime import date

import pytest

from aime.config import current_config
from aime.services import stats

from .conftest import get_ok

TRACKS = {"A": ("ar x", "song 1", "alb p", 100), "B": ("ar x", "song 2", "alb p", 200),
          "C": ("ar y", "song 3", "alb q", 300), "D": ("ar y", "song 1", None, None),
          "E": ("ar z", "song 4", "alb r", 50)}
PLAYS = [("E", "2020-03-01T12:00:00Z"), ("E", "2020-03-02T12:00:00Z"), ("E", "2020-03-03T12:00:00Z"),
         ("A", "2020-06-01T12:00:00Z"), ("C", "2020-12-31T20:00:00Z"), ("A", "2021-03-01T12:00:00Z"),
         ("B", "2021-07-01T12:00:00Z"), ("A", "2022-02-02T12:00:00Z"), ("D", "2022-12-31T20:00:00Z"),
         ("C", "2023-05-05T12:00:00Z"), ("B", "2024-01-01T00:00:00Z"), ("D", "2024-08-08T12:00:00Z")]


@pytest.fixture(autouse=True)
def _pages_of_one(monkeypatch):
    """The rankings walk the year rows one row per page, so that the walk's stopping bound is what is tested."""
    monkeypatch.setattr(stats, "_WALK_PAGE", 1)


def _record(client, auth) -> None:
    for key, played_at in PLAYS:
        artist, title, album, seconds = TRACKS[key]
        body = {"artist": artist, "title": title, "album": album, "played_at": played_at}
        if seconds is not None:
            body["duration_seconds"] = seconds
        assert client.post("/api/v1/history/tracks", json=body, headers=auth).status_code == 201


def _summary(answer: dict) -> tuple:
    return (answer["total_tracks"], answer["unique_artists"], answer["unique_albums"], answer["unique_tracks"],
            answer["total_duration_seconds"], answer["plays_without_duration"], answer["peak_hour"])


def _items(items: list[dict]) -> list[tuple]:
    return [(i["name"], i.get("artist"), i["plays"], i["duration_seconds"]) for i in items]


def _read_by_year_rows(app, start: str, end: str, tz: str) -> bool:
    """True when the period is read from several year (or all-time) rollup units, not track by track."""
    with app.app_context():
        units = stats._units(stats.period(current_config(), date.fromisoformat(start), date.fromisoformat(end), tz))
        return units is not None and len(stats._big(units)) > 1


def _span_stats(app, client, auth, start: str, end: str, tz: str) -> dict:
    """The plays recorded, then /history/stats of the span, which must be read from the year rows."""
    _record(client, auth)
    assert _read_by_year_rows(app, start, end, tz)
    return get_ok(client, "/api/v1/history/stats", start_date=start, end_date=end, tz=tz)


def test_two_whole_years_from_their_year_rows(app, client, auth):
    got = _span_stats(app, client, auth, "2021-01-01", "2022-12-31", "UTC")
    # p3 p4 p5 p6: A twice (200 s), B (200 s), D (no length); artists x and y; album p only; 3 tracks; 12 h has 3.
    assert _summary(got) == (4, 2, 1, 3, 400, 1, 12)
    assert _items(got["top_artists"]) == [("ar x", None, 3, 400), ("ar y", None, 1, 0)]
    assert _items(got["top_albums"]) == [("alb p", "ar x", 3, 400)]
    # Ties on plays: more listening time first (B 200 s before D 0 s).
    assert _items(got["top_tracks"]) == [("song 1", "ar x", 2, 200), ("song 2", "ar x", 1, 200),
                                         ("song 1", "ar y", 1, 0)]
    top = get_ok(client, "/api/v1/history/top/tracks", start_date="2021-01-01", end_date="2022-12-31", tz="UTC",
                 limit=1)
    assert _items(top["items"]) == [("song 1", "ar x", 2, 200)]


def test_all_time_less_the_first_year(app, client, auth):
    got = _span_stats(app, client, auth, "2021-01-01", "2024-12-31", "UTC")
    # p3-p9: A 2 (200 s), B 2 (400 s), C 1 (300 s), D 2 (unknown); 4 tracks, albums p and q; 12 h has 5.
    assert _summary(got) == (7, 2, 2, 4, 900, 2, 12)
    assert _items(got["top_artists"]) == [("ar x", None, 4, 600), ("ar y", None, 3, 300)]
    assert _items(got["top_albums"]) == [("alb p", "ar x", 4, 600), ("alb q", "ar y", 1, 300)]
    assert _items(got["top_tracks"]) == [("song 2", "ar x", 2, 400), ("song 1", "ar x", 2, 200),
                                         ("song 1", "ar y", 2, 0), ("song 3", "ar y", 1, 300)]
    for kind, best in (("artists", ("ar x", None, 4, 600)), ("albums", ("alb p", "ar x", 4, 600)),
                       ("tracks", ("song 2", "ar x", 2, 400))):
        top = get_ok(client, f"/api/v1/history/top/{kind}", start_date="2021-01-01", end_date="2024-12-31",
                     tz="UTC", limit=1)
        assert _items(top["items"]) == [best], kind


def test_two_years_in_kolkata_move_the_plays_at_the_new_year(app, client, auth):
    got = _span_stats(app, client, auth, "2021-01-01", "2022-12-31", "Asia/Kolkata")
    # p2 is on 1 January 2021 there and p6 on 1 January 2023: p2 p3 p4 p5, no play without a length;
    # 17 h (12:00 UTC) has 3, 1 h has p2.
    assert _summary(got) == (4, 2, 2, 3, 700, 0, 17)
    assert _items(got["top_artists"]) == [("ar x", None, 3, 400), ("ar y", None, 1, 300)]
    assert _items(got["top_albums"]) == [("alb p", "ar x", 3, 400), ("alb q", "ar y", 1, 300)]
    assert _items(got["top_tracks"]) == [("song 1", "ar x", 2, 200), ("song 3", "ar y", 1, 300),
                                         ("song 2", "ar x", 1, 200)]
