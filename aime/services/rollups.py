"""Pre-aggregated listening counts kept in step with every write of listens.

Every code path that inserts or deletes listens calls listens_added/listens_removed inside the same
transaction, with (track_id, played_at) pairs of the rows it really wrote (removed: after the DELETE).
Six rollups are kept (aime.models.rollup): plays per 15-minute UTC bucket and per (UTC month, 15-minute slot of
the day), per-track and per-artist totals, per-track plays of each UTC month, year and all time (track_period_plays),
and per-group plays (everything, each artist, album and song) of the same units (group_period_plays), read by
aime.services.stats for periods. A group row is the sum of the track rows of the tracks now in the group: every
change of a track row here changes its groups by the same amount (_groups_changed), and the triggers of migration
0021 take a track's rows out of its groups when it is deleted or changes artist, album or title.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from sqlalchemy import text

from ..database import dbapi_cursor, run_write
from ..extensions import db
from ..models.rollup import (  # noqa: F401  (tables)
    BUCKET_SECONDS,
    KIND_ALBUM,
    KIND_ARTIST,
    KIND_SONG,
    KIND_TOTAL,
    LEVEL_ALL,
    LEVEL_MONTH,
    LEVEL_YEAR,
    ArtistPlayTotal,
    GroupPeriodPlay,
    ListenBucket,
    MonthQuarterPlay,
    TrackPeriodPlay,
    TrackPlayTotal,
)
from . import rollup_sums
from .period_cover import LEVELS, day_units, unit_of, unit_start
from .sql_lists import ids_text

# ON CONFLICT ... DO UPDATE is understood by SQLite (>= 3.24) and PostgreSQL alike.
_ADD_BUCKETS = text(
    "INSERT INTO listen_buckets (bucket, plays) VALUES (:bucket, :plays) "
    "ON CONFLICT (bucket) DO UPDATE SET plays = listen_buckets.plays + excluded.plays")
_ADD_TOTALS = text(
    "INSERT INTO track_play_totals (track_id, plays, first_played_at, last_played_at, listened_seconds, "
    "listened_plays) VALUES (:track_id, :plays, :first, :last, :listened, :listened_plays) "
    "ON CONFLICT (track_id) DO UPDATE SET plays = track_play_totals.plays + excluded.plays, "
    "listened_seconds = track_play_totals.listened_seconds + excluded.listened_seconds, "
    "listened_plays = track_play_totals.listened_plays + excluded.listened_plays, "
    "first_played_at = CASE WHEN excluded.first_played_at < track_play_totals.first_played_at "
    "THEN excluded.first_played_at ELSE track_play_totals.first_played_at END, "
    "last_played_at = CASE WHEN excluded.last_played_at > track_play_totals.last_played_at "
    "THEN excluded.last_played_at ELSE track_play_totals.last_played_at END")
_ADD_ARTISTS = text(
    "INSERT INTO artist_play_totals (artist_id, plays) VALUES (:artist_id, :plays) "
    "ON CONFLICT (artist_id) DO UPDATE SET plays = artist_play_totals.plays + excluded.plays")
_ADD_PERIODS = text(
    "INSERT INTO track_period_plays (level, unit, track_id, plays, listened_seconds, listened_plays) "
    "VALUES (:level, :unit, :track_id, :plays, :listened, :listened_plays) "
    "ON CONFLICT (level, unit, track_id) DO UPDATE SET plays = track_period_plays.plays + excluded.plays, "
    "listened_seconds = track_period_plays.listened_seconds + excluded.listened_seconds, "
    "listened_plays = track_period_plays.listened_plays + excluded.listened_plays")
_ADD_QUARTERS = text(
    "INSERT INTO month_quarter_plays (month, quarter, plays) VALUES (:month, :quarter, :plays) "
    "ON CONFLICT (month, quarter) DO UPDATE SET plays = month_quarter_plays.plays + excluded.plays")
def _positional(statement) -> str:
    """The text of a statement whose :names each appear once, with ? in their place (SQLite binds the rows'
    tuples in that order, without a dict per row)."""
    names = re.findall(r"(?<![:\w]):(\w+)", statement.text)
    if len(names) != len(set(names)):
        raise ValueError("a name is bound twice")
    return re.sub(r"(?<![:\w]):\w+", "?", statement.text)


# rows as tuples: (bucket, plays); (month, quarter, plays); (track_id, plays, first, last, listened, listened_plays);
# (artist_id, plays)
_POSITIONAL = {statement: _positional(statement) for statement in (_ADD_BUCKETS, _ADD_QUARTERS, _ADD_TOTALS,
                                                                   _ADD_ARTISTS)}

_TRACK_PERIODS = ("SELECT level, unit, track_id, plays, listened_seconds, listened_plays FROM track_period_plays "
                  "WHERE track_id IN :ids")
_ALL_TIME = (-(1 << 62), 1 << 62)  # [lo, hi) of the all-time unit in epoch seconds
_DAY_QUARTERS = 86400 // BUCKET_SECONDS
_REFILL_QUARTERS = text(
    "INSERT INTO month_quarter_plays (month, quarter, plays) SELECT CAST(:month AS INTEGER), bucket % 96, SUM(plays) "
    "FROM listen_buckets WHERE bucket >= :lo AND bucket < :hi GROUP BY bucket % 96 HAVING SUM(plays) > 0")
_DROP_PERIOD = text("DELETE FROM track_period_plays WHERE level = :level AND unit = :unit AND track_id = :track_id")
_REFILL_PERIOD = text(
    "INSERT INTO track_period_plays (level, unit, track_id, plays, listened_seconds, listened_plays) "
    "SELECT CAST(:level AS INTEGER), CAST(:unit AS INTEGER), track_id, COUNT(*), COALESCE(SUM(listened_seconds), 0), "
    "COUNT(listened_seconds) FROM listens WHERE track_id = :track_id AND played_at >= :lo AND played_at < :hi "
    "GROUP BY track_id")
_TRACK_ARTISTS = "SELECT id, artist_id FROM tracks WHERE id IN :ids"
_RECOUNT_ARTIST = text(
    "UPDATE artist_play_totals SET plays = COALESCE((SELECT SUM(track_play_totals.plays) FROM track_play_totals "
    "JOIN tracks ON tracks.id = track_play_totals.track_id WHERE tracks.artist_id = artist_play_totals.artist_id), 0) "
    "WHERE artist_id = :artist_id")
_CHUNK = 5000  # ids per IN list (well under every driver's parameter limit)
# Removal recounts from the listens that remain, so it is exact whatever was removed and how often.
_RECOUNT_BUCKET = text(
    "UPDATE listen_buckets SET plays = (SELECT COUNT(*) FROM listens "
    "WHERE listens.played_at >= listen_buckets.bucket * 900 AND listens.played_at < listen_buckets.bucket * 900 + 900) "
    "WHERE bucket = :bucket")
_RECOUNT_TRACK = text(
    "UPDATE track_play_totals SET "
    "plays = (SELECT COUNT(*) FROM listens WHERE listens.track_id = track_play_totals.track_id), "
    "first_played_at = COALESCE((SELECT MIN(played_at) FROM listens "
    "WHERE listens.track_id = track_play_totals.track_id), 0), "
    "last_played_at = COALESCE((SELECT MAX(played_at) FROM listens "
    "WHERE listens.track_id = track_play_totals.track_id), 0), "
    "listened_seconds = COALESCE((SELECT SUM(listened_seconds) FROM listens "
    "WHERE listens.track_id = track_play_totals.track_id), 0), "
    "listened_plays = (SELECT COUNT(listened_seconds) FROM listens "
    "WHERE listens.track_id = track_play_totals.track_id) "
    "WHERE track_id = :track_id")
_TOTALS_FROM_LISTENS = (
    "INSERT INTO track_play_totals (track_id, plays, first_played_at, last_played_at, listened_seconds, "
    "listened_plays) SELECT track_id, COUNT(*), MIN(played_at), MAX(played_at), COALESCE(SUM(listened_seconds), 0), "
    "COUNT(listened_seconds) FROM listens")


def listens_added(session, pairs: Iterable[tuple], artist_of: Mapping[int, int] | None = None) -> None:
    """Account for newly inserted listens (track_id, played_at epoch seconds[, listened seconds or None]).

    `artist_of` (track id -> artist id), when the caller knows it, saves reading the tracks' artists.
    """
    pairs = list(pairs)
    if not pairs:
        return
    if session.get_bind().dialect.name == "postgresql":
        _pg_listens_added(session, pairs)
        return
    # Aggregate first: one row per key (summed per key in C passes over the batch's columns, rollup_sums).
    columns = rollup_sums.Columns.of(pairs)
    buckets = rollup_sums.buckets(columns)
    totals = rollup_sums.track_totals(columns)
    artists: Counter = Counter()
    plays_of = {row[0]: row[1] for row in totals}
    for track_id, artist_id in _known_artists(session, list(plays_of), artist_of or {}):
        artists[artist_id] += plays_of[track_id]
    months = rollup_sums.month_tuples(columns)
    with dbapi_cursor(session) as cursor:
        cursor.executemany(_POSITIONAL[_ADD_BUCKETS], sorted(buckets.items()))
        cursor.executemany(_POSITIONAL[_ADD_QUARTERS], rollup_sums.quarter_rows(buckets))
        cursor.executemany(_POSITIONAL[_ADD_TOTALS], totals)
        cursor.executemany(_POSITIONAL[_ADD_ARTISTS], sorted(artists.items()))
        # both track_period_plays and the groups summed and applied in SQL, from a temp table
        _load_deltas(cursor, months)
        _years_and_all_time(cursor, months)  # from the month rows, in SQLite
        cursor.execute(_PERIODS_FROM_DELTAS)
        _groups_from_deltas(cursor, negative=None)


def _groups_changed(session, deltas: Mapping[tuple[int, int, int], tuple[int, int, int]]) -> None:
    """Add the change (plays, listened seconds, plays with a length) of each (level, unit, track) row of
    track_period_plays to the track's groups (everything, its artist, its album, its song). Tracks that no longer
    exist are skipped: the delete trigger of migration 0021 took their rows out."""
    deltas = {key: d for key, d in deltas.items() if any(d)}
    if not deltas:
        return
    if session.get_bind().dialect.name == "sqlite":
        with dbapi_cursor(session) as cursor:
            _load_deltas(cursor, sorted((*key, *d) for key, d in deltas.items()))
            _groups_from_deltas(cursor, negative=any(d[0] < 0 for d in deltas.values()))
        return
    rows = sorted((*key, *d) for key, d in deltas.items())
    names = ("levels", "units", "tracks", "plays", "listened", "measured")
    arrays = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    arrays["ids"] = sorted({row[2] for row in rows})
    with dbapi_cursor(session) as cursor:
        cursor.execute(_PG_GROUPS_CHANGED, arrays)
        if any(row[3] < 0 for row in rows):
            cursor.execute(_PG_DROP_EMPTY_GROUPS, arrays)


# SQLite: the batch's per-track changes go to a temporary table once; summing them per group and the upserts run in
# SQLite's C (a Python dict per group row and one bound parameter set per upsert cost more than the B-tree work).
_DELTAS = "temp.aime_period_deltas"
_CREATE_DELTAS = ("CREATE TEMP TABLE IF NOT EXISTS aime_period_deltas (level INTEGER NOT NULL, unit INTEGER NOT NULL, "
                  "track_id INTEGER NOT NULL, plays INTEGER NOT NULL, listened INTEGER NOT NULL, "
                  "measured INTEGER NOT NULL)")
_PERIODS_FROM_DELTAS = (
    "INSERT INTO track_period_plays (level, unit, track_id, plays, listened_seconds, listened_plays) "
    f"SELECT level, unit, track_id, plays, listened, measured FROM {_DELTAS} WHERE true "
    "ON CONFLICT (level, unit, track_id) DO UPDATE SET plays = track_period_plays.plays + excluded.plays, "
    "listened_seconds = track_period_plays.listened_seconds + excluded.listened_seconds, "
    "listened_plays = track_period_plays.listened_plays + excluded.listened_plays")
# The year and all-time rows of the temp table from its month rows, appended in key order after them (Python built
# and bound three rows per track before). A batch in one month: copies of the month rows (each is its track's only
# row); in one year: the year rows summed per track, the all-time rows copies of them; else both summed, the year as
# the floor of month / 12 (also before 1970, where SQL's division would round towards zero).
def _floor_div(expression: str, divisor: int) -> str:
    """SQL for floor(expression / divisor) of integers, also below zero (SQL's `/` rounds towards zero)."""
    return f"(({expression}) - ((({expression}) % {divisor} + {divisor}) % {divisor})) / {divisor}"


_YEAR_OF_MONTH = _floor_div("unit", 12)
_SUMS = "SUM(plays), SUM(listened), SUM(measured)"
_COPY_ALL_TIME = (f"INSERT INTO {_DELTAS} SELECT {LEVEL_ALL}, 0, track_id, plays, listened, measured FROM {_DELTAS} "
                  "WHERE level = {level} ORDER BY rowid")
_YEARS_AND_ALL_TIME = {
    "month": (f"INSERT INTO {_DELTAS} SELECT {LEVEL_YEAR}, ?, track_id, plays, listened, measured FROM {_DELTAS} "
              f"WHERE level = {LEVEL_MONTH} ORDER BY rowid", _COPY_ALL_TIME.format(level=LEVEL_MONTH)),
    "year": (f"INSERT INTO {_DELTAS} SELECT {LEVEL_YEAR}, ?, track_id, {_SUMS} FROM {_DELTAS} "
             f"WHERE level = {LEVEL_MONTH} GROUP BY track_id ORDER BY track_id",
             _COPY_ALL_TIME.format(level=LEVEL_YEAR)),
    "years": (f"INSERT INTO {_DELTAS} SELECT {LEVEL_YEAR}, {_YEAR_OF_MONTH}, track_id, {_SUMS} FROM {_DELTAS} "
              f"WHERE level = {LEVEL_MONTH} GROUP BY {_YEAR_OF_MONTH}, track_id ORDER BY {_YEAR_OF_MONTH}, track_id",
              f"INSERT INTO {_DELTAS} SELECT {LEVEL_ALL}, 0, track_id, {_SUMS} FROM {_DELTAS} "
              f"WHERE level = {LEVEL_MONTH} GROUP BY track_id ORDER BY track_id"),
}


def _years_and_all_time(cursor, months: list[tuple]) -> None:
    """Append the year and all-time rows of the temp table's month rows (`months`, in key order)."""
    first, last = months[0][1], months[-1][1]
    years, all_time = _YEARS_AND_ALL_TIME[
        "month" if first == last else "year" if first // 12 == last // 12 else "years"]
    if first // 12 == last // 12:
        cursor.execute(years, (first // 12,))
    else:
        cursor.execute(years)
    cursor.execute(all_time)


# (kind, key_id, title_key, condition) of a track t's groups
_GROUP_KEYS = ((KIND_TOTAL, "0", "''", "true"), (KIND_ARTIST, "t.artist_id", "''", "true"),
               (KIND_ALBUM, "t.album_id", "''", "t.album_id IS NOT NULL"),
               (KIND_SONG, "t.artist_id", "t.title_key", "true"))
_GROUP_SUMS = ("SUM(d.plays)", "SUM(d.listened + (d.plays - d.measured) * COALESCE(t.duration_seconds, 0))",
               "SUM(CASE WHEN t.duration_seconds IS NULL THEN d.plays - d.measured ELSE 0 END)")


def _group_select(kind: int, key_id: str, title_key: str, where: str, columns: str) -> str:
    by = "".join(f", {column}" for column in (key_id, title_key) if column.startswith("t."))
    return (f"SELECT {kind}, d.level, d.unit, {key_id}, {title_key}{columns} FROM {_DELTAS} d "
            f"JOIN tracks t ON t.id = d.track_id WHERE {where} GROUP BY d.level, d.unit{by}")


_DROP_EMPTY_FROM_DELTAS = [
    "DELETE FROM group_period_plays WHERE plays <= 0 AND (kind, level, unit, key_id, title_key) IN ("
    + _group_select(kind, key_id, title_key, where, "") + ")"
    for kind, key_id, title_key, where in _GROUP_KEYS]


# The four group upserts read the batch's per-track changes joined to their tracks once, from a second temporary
# table (each joining `tracks` itself cost 10-20 % more CPU per batch; docs/benchmarks.md, sixth round).
_GROUP_DELTAS = "temp.aime_group_deltas"
_CREATE_GROUP_DELTAS = ("CREATE TEMP TABLE IF NOT EXISTS aime_group_deltas (level INTEGER NOT NULL, "
                        "unit INTEGER NOT NULL, artist_id INTEGER NOT NULL, album_id INTEGER, title_key TEXT NOT NULL, "
                        "plays INTEGER NOT NULL, seconds INTEGER NOT NULL, unmeasured INTEGER NOT NULL)")
_FILL_GROUP_DELTAS = (f"INSERT INTO {_GROUP_DELTAS} SELECT d.level, d.unit, t.artist_id, t.album_id, t.title_key, "
                      + ", ".join(column.replace("SUM(", "(", 1) for column in _GROUP_SUMS)
                      + f" FROM {_DELTAS} d JOIN tracks t ON t.id = d.track_id")
_GROUPS_FROM_GROUP_DELTAS = [
    "INSERT INTO group_period_plays (kind, level, unit, key_id, title_key, plays, seconds, unmeasured) "
    f"SELECT {kind}, level, unit, {key_id}, {title_key}, SUM(plays), SUM(seconds), SUM(unmeasured) "
    f"FROM {_GROUP_DELTAS} t WHERE {where} GROUP BY t.level, t.unit"
    + "".join(f", {column}" for column in (key_id, title_key) if column.startswith("t."))
    + " HAVING SUM(plays) <> 0 OR SUM(seconds) <> 0 OR SUM(unmeasured) <> 0"
    " ON CONFLICT (kind, level, unit, key_id, title_key) DO UPDATE SET "
    "plays = group_period_plays.plays + excluded.plays, seconds = group_period_plays.seconds + excluded.seconds, "
    "unmeasured = group_period_plays.unmeasured + excluded.unmeasured"
    for kind, key_id, title_key, where in _GROUP_KEYS]


# Added plays alone (listens_added: every delta row has plays >= 1, so no group sums to nothing and the HAVING drops
# none): the song upsert takes the rows one by one, without its GROUP BY. SQLite applies an upsert row by row, so a
# song with two tracks in the batch is inserted by the first row and updated by the second: the same sums. (Songs
# are about one row per track, so their sort cost more than it saved: -22 % CPU for that statement, measured;
# artists and albums group several tracks and keep the GROUP BY.) PostgreSQL would refuse a row updated twice.
_SONGS_FROM_ADDED = _GROUPS_FROM_GROUP_DELTAS[3].replace(
    "SUM(plays), SUM(seconds), SUM(unmeasured)", "plays, seconds, unmeasured").replace(
    " GROUP BY t.level, t.unit, t.artist_id, t.title_key HAVING SUM(plays) <> 0 OR SUM(seconds) <> 0 "
    "OR SUM(unmeasured) <> 0", " ORDER BY t.rowid")
assert _GROUP_KEYS[3][0] == KIND_SONG and "GROUP BY" not in _SONGS_FROM_ADDED
_GROUPS_FROM_ADDED = [*_GROUPS_FROM_GROUP_DELTAS[:3], _SONGS_FROM_ADDED]


def _load_deltas(cursor, rows: list[tuple]) -> None:
    """Put (level, unit, track, plays, listened seconds, plays with a length) rows in the temporary table."""
    cursor.execute(_CREATE_DELTAS)
    cursor.execute(f"DELETE FROM {_DELTAS}")
    cursor.executemany(f"INSERT INTO {_DELTAS} VALUES (?, ?, ?, ?, ?, ?)", rows)


def _groups_from_deltas(cursor, negative: bool | None) -> None:
    """Add the temporary table's per-track changes to the tracks' groups (SQLite); drop groups left empty.
    `negative` None: the changes are added plays only (every row's plays >= 1)."""
    cursor.execute(_CREATE_GROUP_DELTAS)
    cursor.execute(f"DELETE FROM {_GROUP_DELTAS}")
    cursor.execute(_FILL_GROUP_DELTAS)
    for statement in _GROUPS_FROM_GROUP_DELTAS if negative is not None else _GROUPS_FROM_ADDED:
        cursor.execute(statement)
    cursor.execute(f"DELETE FROM {_GROUP_DELTAS}")
    if negative:
        for statement in _DROP_EMPTY_FROM_DELTAS:
            cursor.execute(statement)
    cursor.execute(f"DELETE FROM {_DELTAS}")


# PostgreSQL: a batch's plays go to the server once, as arrays, and one statement applies all six rollups: every
# upsert is an INSERT ... SELECT ... GROUP BY over the unnested plays (one row per key, as ON CONFLICT DO UPDATE may
# not touch a row twice), in key order (one lock order for every writer). Python's per-key dicts and one bound
# parameter set per rollup row (psycopg's executemany) cost more client CPU than all the rest of an import batch.
# The batch's tracks are read once, by primary key (`= ANY` of the distinct ids): joined to `tracks` itself, each of
# the five joins hashed the whole table. Units as in period_cover, with floor division (exact before 1970 too):
# bucket = played_at // 900, quarter = bucket % 96, month = UTC months since 1970-01, year = UTC years since 1970.
# (%% is psycopg's escaped %.)
_PG_ADDED = f"""
WITH {{source}} added AS MATERIALIZED (
    SELECT a.track_id, a.played_at, a.listened,
           (a.played_at - ((a.played_at %% 900 + 900) %% 900)) / 900 AS bucket,
           ((a.played_at %% 86400 + 86400) %% 86400) / 900 AS quarter,
           CAST((EXTRACT(YEAR FROM u.moment) - 1970) * 12 + EXTRACT(MONTH FROM u.moment) - 1 AS integer) AS month,
           CAST(EXTRACT(YEAR FROM u.moment) - 1970 AS integer) AS year
    FROM {{plays}} AS a(track_id, played_at, listened)
    CROSS JOIN LATERAL (SELECT to_timestamp(a.played_at) AT TIME ZONE 'UTC' AS moment) AS u),
batch_tracks AS MATERIALIZED (
    SELECT id, artist_id, album_id, title_key, duration_seconds FROM tracks WHERE id = ANY({{ids}})),
periods AS MATERIALIZED (
    SELECT {LEVEL_MONTH} AS level, month AS unit, track_id, COUNT(*) AS plays,
           COALESCE(SUM(listened), 0) AS listened, COUNT(listened) AS measured FROM added GROUP BY month, track_id
    UNION ALL
    SELECT {LEVEL_YEAR}, year, track_id, COUNT(*), COALESCE(SUM(listened), 0), COUNT(listened)
    FROM added GROUP BY year, track_id
    UNION ALL
    SELECT {LEVEL_ALL}, 0, track_id, COUNT(*), COALESCE(SUM(listened), 0), COUNT(listened)
    FROM added GROUP BY track_id),
buckets AS (
    INSERT INTO listen_buckets (bucket, plays) SELECT bucket, COUNT(*) FROM added GROUP BY bucket ORDER BY bucket
    ON CONFLICT (bucket) DO UPDATE SET plays = listen_buckets.plays + excluded.plays),
quarters AS (
    INSERT INTO month_quarter_plays (month, quarter, plays) SELECT month, quarter, COUNT(*) FROM added
    GROUP BY month, quarter ORDER BY month, quarter
    ON CONFLICT (month, quarter) DO UPDATE SET plays = month_quarter_plays.plays + excluded.plays),
totals AS (
    INSERT INTO track_play_totals (track_id, plays, first_played_at, last_played_at, listened_seconds, listened_plays)
    SELECT track_id, COUNT(*), MIN(played_at), MAX(played_at), COALESCE(SUM(listened), 0), COUNT(listened)
    FROM added GROUP BY track_id ORDER BY track_id
    ON CONFLICT (track_id) DO UPDATE SET plays = track_play_totals.plays + excluded.plays,
    listened_seconds = track_play_totals.listened_seconds + excluded.listened_seconds,
    listened_plays = track_play_totals.listened_plays + excluded.listened_plays,
    first_played_at = LEAST(track_play_totals.first_played_at, excluded.first_played_at),
    last_played_at = GREATEST(track_play_totals.last_played_at, excluded.last_played_at)),
artists AS (
    INSERT INTO artist_play_totals (artist_id, plays) SELECT t.artist_id, COUNT(*) FROM added a
    JOIN batch_tracks t ON t.id = a.track_id GROUP BY t.artist_id ORDER BY t.artist_id
    ON CONFLICT (artist_id) DO UPDATE SET plays = artist_play_totals.plays + excluded.plays),
track_periods AS (
    INSERT INTO track_period_plays (level, unit, track_id, plays, listened_seconds, listened_plays)
    SELECT level, unit, track_id, plays, listened, measured FROM periods ORDER BY level, unit, track_id
    ON CONFLICT (level, unit, track_id) DO UPDATE SET plays = track_period_plays.plays + excluded.plays,
    listened_seconds = track_period_plays.listened_seconds + excluded.listened_seconds,
    listened_plays = track_period_plays.listened_plays + excluded.listened_plays)
"""


def _pg_group_changes(deltas: str, tracks: str, *, having: bool) -> str:
    """SELECT of the groups' changes (kind, level, unit, key_id, title_key, plays, seconds, unmeasured; PostgreSQL)
    from a relation `deltas` (level, unit, track_id, plays, listened, measured) joined to `tracks` (id, artist_id,
    album_id, title_key, duration_seconds): the four kinds; with `having`, groups whose change is nothing are left
    out."""
    sums = ", ".join(_GROUP_SUMS)
    selects = []
    for kind, key_id, title_key, where in _GROUP_KEYS:
        by = "".join(f", {column}" for column in (key_id, title_key) if column.startswith("t."))
        selects.append(f"SELECT {kind}, d.level, d.unit, {key_id}, {title_key}, {sums} FROM {deltas} d "
                       f"JOIN {tracks} t ON t.id = d.track_id WHERE {where} GROUP BY d.level, d.unit{by}"
                       + (" HAVING " + " OR ".join(f"{column} <> 0" for column in _GROUP_SUMS) if having else ""))
    return ("SELECT * FROM (" + " UNION ALL ".join(selects) + ") "
            "AS g (kind, level, unit, key_id, title_key, plays, seconds, unmeasured)")


def _pg_group_upsert(deltas: str, tracks: str, *, having: bool) -> str:
    """INSERT ... SELECT of _pg_group_changes into group_period_plays, in key order."""
    return ("INSERT INTO group_period_plays (kind, level, unit, key_id, title_key, plays, seconds, unmeasured) "
            + _pg_group_changes(deltas, tracks, having=having) + " ORDER BY 1, 2, 3, 4, 5 "
            "ON CONFLICT (kind, level, unit, key_id, title_key) DO UPDATE SET "
            "plays = group_period_plays.plays + excluded.plays, "
            "seconds = group_period_plays.seconds + excluded.seconds, "
            "unmeasured = group_period_plays.unmeasured + excluded.unmeasured")


_PG_LISTENS_ADDED = _PG_ADDED.format(
    source="", plays="unnest(%(tracks)s::integer[], %(times)s::bigint[], %(listened)s::integer[])",
    ids="%(ids)s::integer[]") + _pg_group_upsert("periods", "batch_tracks", having=False)
# The same from the rows that an INSERT INTO listens ... RETURNING track_id, played_at, listened_seconds really inserted
# (`moved`), in the same statement: the import's staged rows go in and are counted in one round trip. The batch's
# track ids are an array built once (an InitPlan), so `tracks` is read by primary key as above.
_PG_MOVED_ADDED = (_PG_ADDED.format(source="moved AS ({move}),", plays="moved",
                                    ids="ARRAY(SELECT DISTINCT track_id FROM moved)")
                   + ", groups AS (" + _pg_group_upsert("periods", "batch_tracks", having=False) + ") "
                   "SELECT track_id, played_at, listened FROM added")
# _groups_changed on PostgreSQL: the per-track changes as arrays; groups left with no play are then dropped (a second
# statement: a statement does not see its own upserts).
_PG_DELTAS = (
    "WITH deltas AS MATERIALIZED (SELECT * FROM unnest(%(levels)s::integer[], %(units)s::integer[], "
    "%(tracks)s::integer[], %(plays)s::bigint[], %(listened)s::bigint[], %(measured)s::bigint[]) "
    "AS d(level, unit, track_id, plays, listened, measured)), "
    "batch_tracks AS MATERIALIZED (SELECT id, artist_id, album_id, title_key, duration_seconds FROM tracks "
    "WHERE id = ANY(%(ids)s::integer[])) ")
_PG_GROUPS_CHANGED = _PG_DELTAS + _pg_group_upsert("deltas", "batch_tracks", having=True)
_PG_DROP_EMPTY_GROUPS = (
    _PG_DELTAS + "DELETE FROM group_period_plays p USING (" + _pg_group_changes("deltas", "batch_tracks", having=True)
    + ") AS c WHERE c.plays < 0 AND p.kind = c.kind AND p.level = c.level AND p.unit = c.unit "
    "AND p.key_id = c.key_id AND p.title_key = c.title_key AND p.plays <= 0")


def _pg_listens_added(session, pairs: list[tuple]) -> None:
    """listens_added on PostgreSQL: one statement over the plays as arrays."""
    tracks, times, listened = [], [], []
    for pair in pairs:
        tracks.append(pair[0])
        times.append(pair[1])
        listened.append(pair[2] if len(pair) > 2 else None)
    with dbapi_cursor(session) as cursor:
        cursor.execute(_PG_LISTENS_ADDED, {"tracks": tracks, "times": times, "listened": listened,
                                           "ids": sorted(set(tracks))})


def pg_move_counted(cursor, move: str) -> list[tuple[int, int, int | None]]:
    """Run `move`, an INSERT INTO listens ... RETURNING track_id, played_at, listened_seconds, and add the rows it
    inserted to every rollup in the same statement (PostgreSQL); returns those rows."""
    # Not prepared: psycopg prepares a statement from its fifth run on, and this one has no parameters, so its one
    # plan would serve the rest of the import; measured, that cost 22.3 s of server CPU per 100,000 plays against
    # 15.3 s planned each time. With (empty) parameters psycopg reads %% as %.
    cursor.execute(_PG_MOVED_ADDED.replace("{move}", move), {}, prepare=False)
    return [tuple(row) for row in cursor.fetchall()]


def _period_plays(session, track_ids) -> dict[tuple[int, int, int], tuple[int, int, int]]:
    """{(level, unit, track): (plays, listened seconds, plays with a length)} of the tracks' track_period_plays."""
    ids = sorted(track_ids)
    found: dict[tuple[int, int, int], tuple[int, int, int]] = {}
    for i in range(0, len(ids), _CHUNK):
        for level, unit, track_id, plays, listened, measured in session.execute(
                ids_text(_TRACK_PERIODS), {"ids": ids[i:i + _CHUNK]}):
            found[(level, unit, track_id)] = (plays, int(listened), measured)
    return found


def _difference(before: Mapping, after: Mapping) -> dict:
    """after - before, per key, of (plays, listened seconds, plays with a length)."""
    none = (0, 0, 0)
    return {key: tuple(a - b for a, b in zip(after.get(key, none), before.get(key, none), strict=True))
            for key in set(before) | set(after)}


def _period_rows(pairs: list[tuple]) -> list[dict]:
    """One parameter dict per (level, unit, track) row of track_period_plays that the plays add to."""
    if not pairs:
        return []
    return [{"level": level, "unit": unit, "track_id": track_id, "plays": plays, "listened": listened,
             "listened_plays": measured}
            for level, unit, track_id, plays, listened, measured in rollup_sums.period_tuples(
                rollup_sums.Columns.of(pairs))]


def _upsert(session, statement, rows: list[dict]) -> None:
    """executemany of a plain-SQL upsert; on SQLite straight through the DB-API cursor.

    An import commits small batches (a fraction of a second of write lock each), so per-batch costs count:
    SQLAlchemy's processing of each parameter set cost about as much as the upserts themselves.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "sqlite":
        session.execute(statement, rows)
        return
    with dbapi_cursor(session) as cursor:
        cursor.executemany(statement.text, rows)  # sqlite3 binds :name from the dicts itself


def _known_artists(session, track_ids: list[int], artist_of: Mapping[int, int]) -> list[tuple[int, int]]:
    """(track, artist) pairs: from `artist_of` where it knows them, else from the tracks table."""
    known = [(t, artist_of[t]) for t in track_ids if t in artist_of]
    missing = [t for t in track_ids if t not in artist_of]
    return known + (_artists_of(session, missing) if missing else [])


def _artists_of(session, track_ids: list[int]) -> list[tuple[int, int]]:
    rows = []
    for i in range(0, len(track_ids), _CHUNK):
        rows += session.execute(ids_text(_TRACK_ARTISTS), {"ids": track_ids[i:i + _CHUNK]}).all()
    return rows


def tracks_recounted(session, track_ids) -> None:
    """Recount the totals of tracks whose listens moved between siblings (same artist, same instants:
    buckets and artist totals do not change)."""
    ids = sorted(track_ids)
    before = _period_plays(session, ids)
    after: dict[tuple[int, int, int], int] = {}
    for i in range(0, len(ids), _CHUNK):
        part = {"ids": ids[i:i + _CHUNK]}
        for table in ("track_play_totals", "track_period_plays"):
            session.execute(ids_text(f"DELETE FROM {table} WHERE track_id IN :ids"), part)
        session.execute(ids_text(_TOTALS_FROM_LISTENS + " WHERE track_id IN :ids GROUP BY track_id"), part)
        plays = session.execute(ids_text(
            "SELECT track_id, played_at, listened_seconds FROM listens WHERE track_id IN :ids"), part).all()
        periods = _period_rows([tuple(row) for row in plays])
        _upsert(session, _ADD_PERIODS, periods)
        after.update({(r["level"], r["unit"], r["track_id"]): (r["plays"], r["listened"], r["listened_plays"])
                      for r in periods})
    _groups_changed(session, _difference(before, after))


def listens_removed(session, pairs: Iterable[tuple[int, int]]) -> None:
    """Account for deleted listens (track_id, played_at epoch seconds); call after the DELETE."""
    pairs = list(pairs)
    if not pairs:
        return
    buckets = sorted({played_at // BUCKET_SECONDS for _, played_at in pairs})
    tracks = sorted({track_id for track_id, _ in pairs})
    session.execute(_RECOUNT_BUCKET, [{"bucket": b} for b in buckets])
    session.execute(_RECOUNT_TRACK, [{"track_id": t} for t in tracks])
    artists = sorted({artist_id for _, artist_id in _artists_of(session, tracks)})
    session.execute(_RECOUNT_ARTIST, [{"artist_id": a} for a in artists])
    session.execute(text("DELETE FROM listen_buckets WHERE plays <= 0"))
    session.execute(text("DELETE FROM track_play_totals WHERE plays <= 0"))
    session.execute(text("DELETE FROM artist_play_totals WHERE plays <= 0"))
    _recount_quarters(session, buckets)
    _recount_periods(session, pairs)


def _recount_quarters(session, buckets: list[int]) -> None:
    """Refill month_quarter_plays of the months that lost plays, from their (already recounted) buckets."""
    months = sorted({day_units(bucket // _DAY_QUARTERS)[0] for bucket in buckets})
    for month in months:
        session.execute(text("DELETE FROM month_quarter_plays WHERE month = :month"), {"month": month})
        session.execute(_REFILL_QUARTERS, {"month": month, "lo": unit_start(LEVEL_MONTH, month) // BUCKET_SECONDS,
                                           "hi": unit_start(LEVEL_MONTH, month + 1) // BUCKET_SECONDS})


def _recount_periods(session, pairs: list[tuple]) -> None:
    """Recount, from the remaining listens, the month/year rows of the tracks that lost plays."""
    keys = ({(level, unit_of(level, pair[1]), pair[0]) for pair in pairs for level in LEVELS}
            | {(LEVEL_ALL, 0, pair[0]) for pair in pairs})
    rows = [{"level": level, "unit": unit, "track_id": track_id,
             "lo": unit_start(level, unit) if level != LEVEL_ALL else _ALL_TIME[0],
             "hi": unit_start(level, unit + 1) if level != LEVEL_ALL else _ALL_TIME[1]}
            for level, unit, track_id in sorted(keys)]
    tracks = {key[2] for key in keys}
    before = {key: n for key, n in _period_plays(session, tracks).items() if key in keys}
    session.execute(_DROP_PERIOD, [{k: row[k] for k in ("level", "unit", "track_id")} for row in rows])
    session.execute(_REFILL_PERIOD, rows)
    after = {key: n for key, n in _period_plays(session, tracks).items() if key in keys}
    _groups_changed(session, _difference(before, after))


def rebuild() -> dict:
    """Recompute both rollups from the listens (after bulk SQL that bypassed the hooks)."""
    return run_write(_rebuild)


def _rebuild() -> dict:
    session = db.session
    session.execute(text("DELETE FROM listen_buckets"))
    session.execute(text("DELETE FROM track_play_totals"))
    session.execute(text("DELETE FROM artist_play_totals"))
    session.execute(text("DELETE FROM track_period_plays"))
    session.execute(text("DELETE FROM month_quarter_plays"))
    session.execute(text("DELETE FROM group_period_plays"))
    fill_period_plays(session.connection())
    fill_group_plays(session.connection())
    bucket = _floor_div("played_at", 900)
    session.execute(text(f"INSERT INTO listen_buckets (bucket, plays) SELECT {bucket}, COUNT(*) FROM listens "
                         f"GROUP BY {bucket}"))
    fill_quarter_plays(session.connection())
    session.execute(text(_TOTALS_FROM_LISTENS + " GROUP BY track_id"))
    session.execute(text("INSERT INTO artist_play_totals (artist_id, plays) SELECT tracks.artist_id, "
                         "SUM(track_play_totals.plays) FROM track_play_totals "
                         "JOIN tracks ON tracks.id = track_play_totals.track_id GROUP BY tracks.artist_id"))
    # The rollups are not watched by the data version (aime/services/data_version.py): bump it, so no answer kept
    # while they disagreed with the listens (bulk SQL before this rebuild) outlives the rebuild.
    session.execute(text("UPDATE data_version SET version = version + 1 WHERE id = 1"))
    buckets = session.scalar(text("SELECT COUNT(*) FROM listen_buckets"))
    tracks = session.scalar(text("SELECT COUNT(*) FROM track_play_totals"))
    return {"buckets": buckets, "tracks": tracks}


def _utc_year_month(connection, seconds: str) -> tuple[str, str]:
    """SQL for the UTC calendar year and month (1-12) of an epoch-seconds expression."""
    if connection.dialect.name == "sqlite":
        return (f"CAST(strftime('%Y', {seconds}, 'unixepoch') AS INTEGER)",
                f"CAST(strftime('%m', {seconds}, 'unixepoch') AS INTEGER)")
    moment = f"(to_timestamp({seconds}) AT TIME ZONE 'UTC')"
    return f"CAST(EXTRACT(YEAR FROM {moment}) AS INTEGER)", f"CAST(EXTRACT(MONTH FROM {moment}) AS INTEGER)"


def fill_quarter_plays(connection) -> None:
    """Fill the empty month_quarter_plays from listen_buckets (used by rebuild and by the migration)."""
    year, month = _utc_year_month(connection, "bucket * 900")
    connection.execute(text(
        f"INSERT INTO month_quarter_plays (month, quarter, plays) SELECT ({year} - 1970) * 12 + {month} - 1, "
        f"bucket % 96, SUM(plays) FROM listen_buckets GROUP BY ({year} - 1970) * 12 + {month} - 1, bucket % 96"))


def fill_period_plays(connection) -> None:
    """Fill the empty track_period_plays from the listens: months from the listens, years from the months (used
    by rebuild and by the migration that creates the table)."""
    year, month = _utc_year_month(connection, "played_at")
    unit = f"({year} - 1970) * 12 + {month} - 1"
    columns = "INSERT INTO track_period_plays (level, unit, track_id, plays, listened_seconds, listened_plays) "
    connection.execute(text(
        columns + f"SELECT {LEVEL_MONTH}, {unit}, track_id, COUNT(*), COALESCE(SUM(listened_seconds), 0), "
        f"COUNT(listened_seconds) FROM listens GROUP BY {unit}, track_id"))
    connection.execute(text(
        columns + f"SELECT {LEVEL_YEAR}, {_YEAR_OF_MONTH}, track_id, SUM(plays), SUM(listened_seconds), "
        f"SUM(listened_plays) FROM track_period_plays WHERE level = {LEVEL_MONTH} GROUP BY {_YEAR_OF_MONTH}, track_id"))
    fill_all_time_plays(connection)


def fill_all_time_plays(connection) -> None:
    """The all-time rows of track_period_plays (level LEVEL_ALL, unit 0) from its year rows (none there yet)."""
    connection.execute(text(
        "INSERT INTO track_period_plays (level, unit, track_id, plays, listened_seconds, listened_plays) "
        f"SELECT {LEVEL_ALL}, 0, track_id, SUM(plays), SUM(listened_seconds), SUM(listened_plays) "
        f"FROM track_period_plays WHERE level = {LEVEL_YEAR} GROUP BY track_id"))


def fill_group_plays(connection) -> None:
    """Fill the empty group_period_plays from track_period_plays and the tracks (used by rebuild and migration 0021)."""
    keys = {KIND_TOTAL: ("0", "''"), KIND_ARTIST: ("t.artist_id", "''"), KIND_ALBUM: ("t.album_id", "''"),
            KIND_SONG: ("t.artist_id", "t.title_key")}
    sums = ("SUM(p.plays), SUM(p.listened_seconds + (p.plays - p.listened_plays) * COALESCE(t.duration_seconds, 0)), "
            "SUM(CASE WHEN t.duration_seconds IS NULL THEN p.plays - p.listened_plays ELSE 0 END)")
    for kind, (key_id, title_key) in keys.items():
        where = " WHERE t.album_id IS NOT NULL" if kind == KIND_ALBUM else ""
        by = "".join(f", {column}" for column in (key_id, title_key) if column.startswith("t."))  # not constants
        connection.execute(text(
            f"INSERT INTO group_period_plays (kind, level, unit, key_id, title_key, plays, seconds, unmeasured) "
            f"SELECT {kind}, p.level, p.unit, {key_id}, {title_key}, {sums} FROM track_period_plays p "
            f"JOIN tracks t ON t.id = p.track_id{where} GROUP BY p.level, p.unit{by}"))
