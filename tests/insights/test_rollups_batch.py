"""One batch of listens_added (what an import batch does) leaves every rollup equal to a recount from the listens, in
Python, with period_cover's units: plays before 1970, on bucket, day, month and year boundaries, with and without
listened time, tracks without a length or an album, one track many times."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import text

from aime.database import run_write
from aime.models.rollup import KIND_ALBUM, KIND_ARTIST, KIND_SONG, KIND_TOTAL, LEVEL_ALL, LEVEL_MONTH, LEVEL_YEAR
from aime.services import rollups
from aime.services.period_cover import day_units

from .conftest import post_plays

ROLLUPS = ("listen_buckets", "track_play_totals", "artist_play_totals", "track_period_plays", "month_quarter_plays",
           "group_period_plays")


def _at(*moment) -> int:
    return int(datetime(*moment, tzinfo=UTC).timestamp())


# (track key, played_at, listened seconds or None)
PLAYS = [("A1", -1, None), ("A1", -900, 120), ("A1", -901, None), ("A2", -86400 * 400 - 1, 30), ("B1", 0, None),
         ("B1", 899, 10), ("B1", 900, None), ("C1", _at(2023, 12, 31, 23, 59, 59), 500),
         ("C1", _at(2024, 1, 1), None), ("D1", _at(2024, 1, 31, 23, 59, 59), None), ("D1", _at(2024, 2, 1), 7),
         ("D1", _at(2024, 2, 1, 0, 15), None), ("A1", _at(2024, 2, 29, 23, 45), None)]


def _only_these_listens(db, plays) -> None:
    """Empty the listens and every rollup, then insert `plays` ((track, time, listened seconds)) with no rollup."""
    db.session.execute(text("DELETE FROM listens"))
    for table in ROLLUPS:
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.execute(text("INSERT INTO listens (track_id, played_at, source, created_at, listened_seconds) "
                            "VALUES (:t, :at, 'test', 0, :listened)"),
                       [{"t": t, "at": at, "listened": listened} for t, at, listened in plays])


def _rows(db, table: str) -> list[tuple]:
    return sorted(tuple(row) for row in db.session.execute(text(f"SELECT * FROM {table}")))


def _recount(db) -> dict[str, list[tuple]]:
    """Every rollup table's rows, counted from the listens one play at a time."""
    tracks = {row[0]: row[1:] for row in db.session.execute(text(
        "SELECT id, artist_id, album_id, title_key, duration_seconds FROM tracks"))}
    plays = db.session.execute(text("SELECT track_id, played_at, listened_seconds FROM listens")).all()
    buckets, quarters, artists = Counter(), Counter(), Counter()
    totals, periods, groups = {}, {}, {}
    for track_id, at, listened in plays:
        artist_id, album_id, title_key, length = tracks[track_id]
        month, year = day_units(at // 86400)
        buckets[at // 900] += 1
        quarters[(month, at // 900 % 96)] += 1
        artists[artist_id] += 1
        entry = totals.setdefault(track_id, [0, at, at, 0, 0])
        entry[:] = [entry[0] + 1, min(entry[1], at), max(entry[2], at), entry[3] + (listened or 0),
                    entry[4] + (listened is not None)]
        seconds = listened if listened is not None else (length or 0)
        unmeasured = int(listened is None and length is None)
        for level, unit in ((LEVEL_MONTH, month), (LEVEL_YEAR, year), (LEVEL_ALL, 0)):
            p = periods.setdefault((level, unit, track_id), [0, 0, 0])
            p[:] = [p[0] + 1, p[1] + (listened or 0), p[2] + (listened is not None)]
            keys = [(KIND_TOTAL, 0, ""), (KIND_ARTIST, artist_id, ""), (KIND_SONG, artist_id, title_key)]
            keys += [(KIND_ALBUM, album_id, "")] if album_id is not None else []
            for kind, key_id, title in keys:
                g = groups.setdefault((kind, level, unit, key_id, title), [0, 0, 0])
                g[:] = [g[0] + 1, g[1] + seconds, g[2] + unmeasured]
    return {"listen_buckets": sorted(buckets.items()),
            "track_play_totals": sorted((t, *v) for t, v in totals.items()),
            "artist_play_totals": sorted(artists.items()),
            "track_period_plays": sorted((*k, *v) for k, v in periods.items()),
            "month_quarter_plays": sorted((*k, n) for k, n in quarters.items()),
            "group_period_plays": sorted((*k, *v) for k, v in groups.items())}


def test_one_batch_of_added_listens_equals_a_recount(db, client, auth):
    ids = post_plays(client, auth, [("A1", "2024-01-05T22:40:00Z"), ("A2", "2024-01-05T22:45:00Z"),
                                    ("B1", "2024-01-05T23:05:00Z"), ("C1", "2024-01-06T14:00:00Z"),
                                    ("D1", "2024-01-31T23:30:00Z")])
    pairs = [(ids[key], at, listened) for key, at, listened in PLAYS]

    def write():
        _only_these_listens(db, pairs)
        rollups.listens_added(db.session, pairs[:5])  # two calls in one transaction, the second with old rows
        rollups.listens_added(db.session, pairs[5:])

    run_write(write)
    expected = _recount(db)
    for table in ROLLUPS:
        assert _rows(db, table) == expected[table], table
    # Spot checks by hand: -1 s and -900 s are bucket -1 (slot 95 of 1969-12-31, month -1, year -1); -901 s is -2.
    assert (-1, 2) in expected["listen_buckets"] and (-2, 1) in expected["listen_buckets"]
    assert (-1, 95, 2) in expected["month_quarter_plays"] and (-1, 94, 1) in expected["month_quarter_plays"]
    assert (LEVEL_YEAR, -1, ids["A1"], 3, 120, 1) in expected["track_period_plays"]


def test_batches_within_one_month_or_one_year_equal_a_recount(db, client, auth):
    """Batches in one month (the usual import batch: its year and all-time rows are copies of its month rows), before
    1970 and after, and in several months of one year; a track several times, with and without listened time; one
    song on three tracks (two albums and none) in one batch, as the song upsert takes its rows one by one."""
    ids = post_plays(client, auth, [("A1", "2024-01-05T22:40:00Z"), ("B1", "2024-01-05T23:05:00Z"),
                                    ("D1", "2024-01-31T23:30:00Z")])
    for key, extra in (("loose", {}), ("Z", {"album": "Album Z", "duration_seconds": 210})):
        response = client.post("/api/v1/history/tracks", headers=auth, json={
            "artist": "Alpha", "title": "Alpha One", "played_at": "2024-01-06T10:00:00Z", **extra})
        assert response.status_code == 201, response.get_json()
        ids[key] = response.get_json()["track_id"]
    assert len({ids["A1"], ids["loose"], ids["Z"]}) == 3
    december_1969 = [(ids["A1"], -1, None), (ids["A1"], -900, 120), (ids["B1"], -86400 * 31, 5)]
    february_2024 = [(ids["D1"], _at(2024, 2, 1), 7), (ids["D1"], _at(2024, 2, 1, 0, 15), None),
                     (ids["A1"], _at(2024, 2, 29, 23, 45), None), (ids["B1"], _at(2024, 2, 10), 60),
                     (ids["loose"], _at(2024, 2, 3), None), (ids["Z"], _at(2024, 2, 4), 30)]
    spring_2024 = [(ids["D1"], _at(2024, 3, 31, 23, 59, 59), None), (ids["D1"], _at(2024, 4, 1), 3),
                   (ids["B1"], _at(2024, 4, 2), None)]

    def write():
        _only_these_listens(db, december_1969 + february_2024 + spring_2024)
        rollups.listens_added(db.session, december_1969)
        rollups.listens_added(db.session, february_2024)
        rollups.listens_added(db.session, spring_2024)

    run_write(write)
    expected = _recount(db)
    for table in ROLLUPS:
        assert _rows(db, table) == expected[table], table
    # By hand: Dec 1969 is month -1 of year -1; A1 played twice there (120 s listened once), then once in Feb 2024
    # (month 649 of year 54); D1 twice in Feb 2024 (7 s once), once in March (650), once in April (651, 3 s).
    a1, d1 = ids["A1"], ids["D1"]
    assert [row for row in expected["track_period_plays"] if row[2] in (a1, d1)] == sorted([
        (LEVEL_MONTH, -1, a1, 2, 120, 1), (LEVEL_YEAR, -1, a1, 2, 120, 1), (LEVEL_MONTH, 649, a1, 1, 0, 0),
        (LEVEL_YEAR, 54, a1, 1, 0, 0), (LEVEL_ALL, 0, a1, 3, 120, 1), (LEVEL_MONTH, 649, d1, 2, 7, 1),
        (LEVEL_MONTH, 650, d1, 1, 0, 0), (LEVEL_MONTH, 651, d1, 1, 3, 1), (LEVEL_YEAR, 54, d1, 4, 10, 2),
        (LEVEL_ALL, 0, d1, 4, 10, 2)])
    # The song Alpha One in Feb 2024: A1 (200 s long), the loose track (no length: unmeasured) and Z (30 s listened);
    # all time also A1 twice in Dec 1969 (200 s + 120 s listened): 5 plays, 550 s.
    alpha, title_key = db.session.execute(text("SELECT artist_id, title_key FROM tracks WHERE id = :id"),
                                          {"id": a1}).one()
    assert (KIND_SONG, LEVEL_MONTH, 649, alpha, title_key, 3, 230, 1) in expected["group_period_plays"]
    assert (KIND_SONG, LEVEL_ALL, 0, alpha, title_key, 5, 550, 1) in expected["group_period_plays"]


def test_import_batches_count_exactly_the_plays_they_insert(db, client, auth, monkeypatch):
    """The import path (write_plays; on PostgreSQL the staged rows' move and their rollups in one statement): two
    batches, the first repeating a stored play, leave every rollup equal to a recount. On PostgreSQL the dedup is
    made blind, as if another writer stored the play after it looked: the insert skips it and it is not counted.
    (SQLite's batch holds the write lock from the dedup on, so there the dedup finds it.)"""
    from aime.services.importers import pipeline
    from aime.services.importers.records import Play
    from aime.services.importers.resolve import CatalogCache

    from .conftest import TRACKS

    stored = post_plays(client, auth, [("A1", "2024-01-05T22:40:00Z")])
    if db.engine.dialect.name == "postgresql":
        monkeypatch.setattr(pipeline, "_existing_times", lambda *args: {})  # the dedup sees nothing stored
    plays = [Play(i, TRACKS[key]["artist"], TRACKS[key]["title"], TRACKS[key].get("album"), at,
                  listened_seconds=listened) for i, (key, at, listened) in enumerate(PLAYS)]
    plays.append(Play(len(plays), "Alpha", "Alpha One", "Album A", _at(2024, 1, 5, 22, 40)))  # already stored
    cache = CatalogCache("lastfm")
    results = [run_write(lambda part=part: pipeline.write_plays(db.session, cache, part, window=0, source="lastfm"))
               for part in (plays[7:], plays[:7])]
    assert [(len(r.inserted), r.duplicates) for r in results] == [(6, 1), (7, 0)]
    assert db.session.execute(text("SELECT COUNT(*) FROM listens")).scalar() == len(PLAYS) + 1
    expected = _recount(db)
    for table in ROLLUPS:
        assert _rows(db, table) == expected[table], table
    assert (LEVEL_ALL, 0, stored["A1"], 5, 120, 1) in expected["track_period_plays"]
