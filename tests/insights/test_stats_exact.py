"""Property: whatever plays are added, imported and deleted, every statistic read from the rollups equals a
straightforward recomputation from the listens, for any period in zones with half-hour, 45-minute and DST offsets."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from aime.errors import Conflict
from aime.extensions import db
from aime.jobs import imports
from aime.services import collection, history, localtime, scrobbles, stats
from aime.services.importers.submit import msid_of_keys
from aime.services.period_cover import day_units
from aime.timeutil import range_bounds

ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Europe/Paris", "Australia/Lord_Howe")
# (artist, title, album, length): one song on two albums and without album, a title shared by two artists,
# tracks without a length.
SONGS = (("ar a", "song a", "alb a", 200), ("ar a", "song a", "alb b", 210), ("ar a", "song a", None, None),
         ("ar a", "song b", "alb a", None), ("ar b", "song c", None, 180), ("ar b", "song a", "alb c", 240),
         ("ar c", "song d", "alb d", None))
ALBUMS = ("alb a", "alb b", "alb c", "alb d")
# Plays cluster around UTC year/month ends and the DST changes of Paris, St John's and Lord Howe, in 2021-2025, so
# that spans of several years are read from year rows (some years, or all time less the years outside).
ANCHORS = tuple(int(datetime(*moment, tzinfo=UTC).timestamp()) for moment in (
    (2024, 12, 31, 12), (2024, 3, 31, 1), (2024, 4, 6, 15), (2024, 11, 3, 3), (2025, 1, 31, 20), (2023, 6, 15),
    (2021, 1, 1, 2), (2022, 12, 31, 21)))
RESET = ("listens", "listen_buckets", "track_play_totals", "artist_play_totals", "track_period_plays",
         "group_period_plays", "month_quarter_plays")

moments = st.builds(lambda anchor, shift: anchor + shift, st.sampled_from(ANCHORS),
                    st.integers(-3 * 86400, 3 * 86400))
add = st.tuples(st.just("add"), st.integers(0, len(SONGS) - 1), moments)
imported = st.tuples(st.just("import"), st.lists(st.tuples(st.sampled_from([0, 1, 3, 5, 6]), moments,
                                                           st.integers(30, 400)), min_size=1, max_size=12))
remove = st.tuples(st.just("delete"), st.integers(0, 10_000))
drop_album = st.tuples(st.just("drop_album"), st.sampled_from(ALBUMS))
operations = st.lists(st.one_of(add, add, imported, remove, remove, drop_album), min_size=1, max_size=14)
days = st.builds(lambda anchor, shift: (datetime.fromtimestamp(anchor, UTC) + timedelta(days=shift)).date(),
                 st.sampled_from(ANCHORS), st.integers(-3, 3))
# Spans from a day to several years; a span starting on 1 January 2021 or 2022 and ending on 31 December is whole
# years in UTC (edges of a few hours elsewhere).
years = st.builds(lambda first, count: (date(first, 1, 1), (date(first + count, 1, 1) - date(first, 1, 1)).days - 1),
                  st.sampled_from([2021, 2022, 2023]), st.integers(2, 4))
periods = st.one_of(st.tuples(days, st.sampled_from([0, 0, 1, 6, 30, 95, 400, 900, 1300, None]),
                              st.sampled_from(ZONES), st.booleans()),
                    st.builds(lambda span, zone: (*span, zone, False), years, st.sampled_from(ZONES)))
LIMIT = 3


def _reset():
    for table in RESET:
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()


def _apply(config, op, tmp_path) -> None:
    kind = op[0]
    if kind == "add":
        artist, title, album, length = SONGS[op[1]]
        try:
            history.record_listen(config, {"artist": artist, "title": title, "album": album,
                                           "duration_seconds": length, "played_at": op[2]})
        except Conflict:
            db.session.rollback()
    elif kind == "import":
        _import(op[1], tmp_path)
    elif kind == "delete":
        rows = db.session.execute(text(
            "SELECT listens.played_at, artists.name_key, tracks.title_key, albums.title_key FROM listens "
            "JOIN tracks ON tracks.id = listens.track_id JOIN artists ON artists.id = tracks.artist_id "
            "LEFT JOIN albums ON albums.id = tracks.album_id ORDER BY listens.id")).all()
        if rows:
            row = rows[op[1] % len(rows)]
            scrobbles.delete_listen(row[0], msid_of_keys(row[1], row[2], row[3]))
    else:
        album_id = db.session.scalar(text("SELECT id FROM albums WHERE title = :t"), {"t": op[1]})
        if album_id is not None:
            collection.delete_album(album_id)


def _import(plays, tmp_path) -> None:
    """A Spotify extended-history file (it carries the time really listened) through the import job."""
    entries = [{"ts": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ms_played": seconds * 1000, "master_metadata_track_name": SONGS[i][1],
                "master_metadata_album_artist_name": SONGS[i][0], "master_metadata_album_album_name": SONGS[i][2],
                "spotify_track_uri": None, "reason_end": "trackdone", "skipped": False}
               for i, at, seconds in plays]
    path = tmp_path / "Streaming_History_Audio_2024.json"
    path.write_text(json.dumps(entries))
    imports.run_job(imports.create_file_job(path, None))


def _listens() -> list:
    return db.session.execute(text(
        "SELECT listens.played_at, listens.listened_seconds, tracks.id, tracks.title, tracks.title_key, "
        "tracks.duration_seconds, tracks.artist_id, artists.name AS artist, tracks.album_id, albums.title AS album, "
        "owners.name AS owner "
        "FROM listens JOIN tracks ON tracks.id = listens.track_id JOIN artists ON artists.id = tracks.artist_id "
        "LEFT JOIN albums ON albums.id = tracks.album_id "
        "LEFT JOIN artists AS owners ON owners.id = albums.primary_artist_id")).all()


def _ranked(groups: dict, by: str) -> list[dict]:
    """Top LIMIT of {key: {"plays", "duration", "sort", **shown}} ordered as the statistics order them."""
    first = (lambda g: (-g["duration"], -g["plays"])) if by == "duration" else (lambda g: (-g["plays"], -g["duration"]))
    ordered = sorted(groups.values(), key=lambda g: (*first(g), *g["sort"]))[:LIMIT]
    return [{**{k: v for k, v in g.items() if k not in ("plays", "duration", "sort")}, "plays": g["plays"],
             "duration_seconds": g["duration"]} for g in ordered]


def _group(rows, key, shown) -> dict:
    groups: dict = {}
    for row in rows:
        if key(row) is None:
            continue
        g = groups.setdefault(key(row), {**shown(row), "plays": 0, "duration": 0})
        g["plays"] += 1
        g["duration"] += row.listened_seconds if row.listened_seconds is not None else (row.duration_seconds or 0)
    return groups


def _songs(rows, by: str) -> list[dict]:
    groups = _group(rows, lambda r: (r.artist_id, r.title_key), lambda r: {"sort": (r.title_key, r.artist_id)})
    per_track = _group(rows, lambda r: r.id, lambda r: {"row": r})
    for g in per_track.values():
        song = groups[(g["row"].artist_id, g["row"].title_key)]
        rank = (g["row"].album_id is not None, g["plays"], -g["row"].id)
        if "rank" not in song or rank > song["rank"]:
            r = g["row"]
            song.update(rank=rank, id=r.id, name=r.title, artist=r.artist, album=r.album, album_id=r.album_id)
    for song in groups.values():
        song.pop("rank")
    return _ranked(groups, by)


def expected(rows, tz: ZoneInfo, by: str = "plays") -> dict:
    """Every statistic of the given plays, recomputed from them one by one."""
    artists = _group(rows, lambda r: r.artist_id, lambda r: {"id": r.artist_id, "name": r.artist, "artist": None,
                                                             "sort": (r.artist,)})
    albums = _group(rows, lambda r: r.album_id, lambda r: {"id": r.album_id, "name": r.album, "artist": r.owner,
                                                           "sort": (r.album,)})
    hours: dict = {}
    for row in rows:
        local = datetime.fromtimestamp(row.played_at, tz)
        key = ((local.date() - date(1970, 1, 1)).days, local.hour)
        hours[key] = hours.get(key, 0) + 1
    by_hour = [sum(n for (_, h), n in hours.items() if h == hour) for hour in range(24)]
    return {"total_tracks": len(rows), "unique_artists": len({r.artist_id for r in rows}),
            "unique_albums": len({r.album_id for r in rows if r.album_id is not None}),
            "unique_tracks": len({r.id for r in rows}),
            "total_duration_seconds": sum(g["duration"] for g in artists.values()),
            "plays_without_duration": sum(1 for r in rows if r.listened_seconds is None and r.duration_seconds is None),
            "peak_hour": max(range(24), key=lambda h: (by_hour[h], -h)) if rows else None,
            "hours": sorted((d, h, n) for (d, h), n in hours.items()), "by_hour": by_hour,
            "top_artists": _ranked(artists, by), "top_albums": _ranked(albums, by), "top_tracks": _songs(rows, by)}


def _groups_from_listens(rows) -> dict:
    """group_period_plays recomputed play by play: {(kind, level, unit, key_id, title_key): (plays, seconds,
    plays of unknown length)} for everything
    (kind 0), each artist (1), album (2) and song (3), per UTC month (level 2), year (3) and all time (4)."""
    groups: dict = {}
    for r in rows:
        month, year = day_units(r.played_at // 86400)
        keys = [(0, 0, ""), (1, r.artist_id, ""), (3, r.artist_id, r.title_key)]
        keys += [(2, r.album_id, "")] if r.album_id is not None else []
        for level, unit in ((2, month), (3, year), (4, 0)):
            for kind, key_id, title_key in keys:
                g = groups.setdefault((kind, level, unit, key_id, title_key), [0, 0, 0])
                g[0] += 1
                g[1] += r.listened_seconds if r.listened_seconds is not None else (r.duration_seconds or 0)
                g[2] += r.listened_seconds is None and r.duration_seconds is None
    return {key: tuple(v) for key, v in groups.items()}


def _check_groups(listens: list) -> None:
    """Every per-group rollup row equals the count of its plays (no stale, missing or empty row)."""
    stored = {tuple(r[:5]): tuple(r[5:]) for r in db.session.execute(text(
        "SELECT kind, level, unit, key_id, title_key, plays, seconds, unmeasured FROM group_period_plays"))}
    assert stored == _groups_from_listens(listens)


def _check_tracks(listens: list) -> None:
    """Every per-track rollup row (UTC month, year, all time; all-time totals) equals the count of its plays: none
    is left of a deleted or merged track (no foreign key deletes them since migration 0022, a trigger does)."""
    periods: dict = {}
    totals: dict = {}
    for r in listens:
        month, year = day_units(r.played_at // 86400)
        for key in ((2, month, r.id), (3, year, r.id), (4, 0, r.id)):
            periods[key] = periods.get(key, 0) + 1
        plays, first, last = totals.get(r.id, (0, r.played_at, r.played_at))
        totals[r.id] = (plays + 1, min(first, r.played_at), max(last, r.played_at))
    stored = {tuple(r[:3]): r[3] for r in db.session.execute(text(
        "SELECT level, unit, track_id, plays FROM track_period_plays"))}
    assert stored == periods
    stored = {r[0]: tuple(r[1:]) for r in db.session.execute(text(
        "SELECT track_id, plays, first_played_at, last_played_at FROM track_play_totals"))}
    assert stored == totals


def _check(config, listens: list, start: date, span: int | None, zone: str, open_start: bool) -> None:
    end = None if span is None else start + timedelta(days=span)
    if span is None and open_start:
        start = None  # all time
    elif open_start:
        start = None  # open start, bounded end
    lo, hi = range_bounds(start, end, ZoneInfo(zone))
    rows = [r for r in listens if (lo is None or r.played_at >= lo) and (hi is None or r.played_at < hi)]
    want = expected(rows, ZoneInfo(zone))
    got = stats.history_stats(config, start, end, zone, limit=LIMIT)
    got["hours"] = stats.local_plays(stats.period(config, start, end, zone))
    got["by_hour"] = localtime.hours_of_day(ZoneInfo(zone), lo, hi)  # month rollup + signed bucket corrections
    assert {k: got[k] for k in want} == want, (start, end, zone)
    by_time = expected(rows, ZoneInfo(zone), by="duration")
    p = stats.period(config, start, end, zone)
    for kind in ("artists", "albums", "tracks"):
        items = stats.top_list(config, kind, start, end, zone, limit=LIMIT, by="duration")["items"]
        assert items == by_time[f"top_{kind}"], (kind, start, end, zone)
        # The SQL rankings over per_track() (analytics, playlists) agree too.
        ranking = {"artists": stats.top_artists, "albums": stats.top_albums, "tracks": stats.top_tracks}[kind]
        assert ranking(p, LIMIT, "plays") == want[f"top_{kind}"], (kind, start, end, zone)
        assert ranking(p, LIMIT, "duration") == by_time[f"top_{kind}"], (kind, start, end, zone)
    assert stats.totals(p) == {k: want[k] for k in stats.totals(p)}, (start, end, zone)


# No shrinking: each example rebuilds a history through the real writers, and shrinking one took minutes.
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operations, st.lists(periods, min_size=3, max_size=5))
def test_every_statistic_equals_a_recount_from_the_listens(app, tmp_path, ops, checks):
    config = app.extensions["aime.config"]
    with app.app_context():
        _reset()
        for op in ops:
            _apply(config, op, tmp_path)
            db.session.remove()
        listens = _listens()  # read once: the checks below only read
        _check_groups(listens)
        _check_tracks(listens)
        for check in checks:
            _check(config, listens, *check)
        db.session.remove()
