"""Pre-aggregated listening counts kept in step with every write of listens.

Every code path that inserts or deletes listens calls listens_added/listens_removed inside the same
transaction, with (track_id, played_at) pairs of the rows it really wrote (removed: after the DELETE).
Five rollups are kept (aime.models.rollup): plays per 15-minute UTC bucket and per (UTC month, 15-minute slot of
the day), per-track and per-artist totals, and per-track plays of each UTC month and year (track_period_plays, read
by aime.services.stats for periods).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, text

from ..database import dbapi_cursor, run_write
from ..extensions import db
from ..models.rollup import (  # noqa: F401  (tables)
    BUCKET_SECONDS,
    LEVEL_MONTH,
    LEVEL_YEAR,
    ArtistPlayTotal,
    ListenBucket,
    MonthQuarterPlay,
    TrackPeriodPlay,
    TrackPlayTotal,
)
from .period_cover import LEVELS, day_units, unit_of, unit_start

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
_TRACK_ARTISTS = text("SELECT id, artist_id FROM tracks WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True))
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
    # Aggregate first: one row per key, as PostgreSQL refuses to update the same row twice in one statement.
    buckets = Counter(pair[1] // BUCKET_SECONDS for pair in pairs)
    totals: dict[int, list[int]] = {}
    for pair in pairs:
        track_id, played_at = pair[0], pair[1]
        listened = pair[2] if len(pair) > 2 else None
        entry = totals.get(track_id)
        if entry is None:
            entry = totals[track_id] = [0, played_at, played_at, 0, 0]
        entry[0] += 1
        entry[1] = min(entry[1], played_at)
        entry[2] = max(entry[2], played_at)
        if listened is not None:
            entry[3] += listened
            entry[4] += 1
    _upsert(session, _ADD_BUCKETS, [{"bucket": b, "plays": n} for b, n in sorted(buckets.items())])
    _upsert(session, _ADD_QUARTERS, _quarter_rows(buckets))
    _upsert(session, _ADD_TOTALS, [{"track_id": t, "plays": v[0], "first": v[1], "last": v[2], "listened": v[3],
                                   "listened_plays": v[4]} for t, v in sorted(totals.items())])
    artists: Counter = Counter()
    for track_id, artist_id in _known_artists(session, list(totals), artist_of or {}):
        artists[artist_id] += totals[track_id][0]
    _upsert(session, _ADD_ARTISTS, [{"artist_id": a, "plays": n} for a, n in sorted(artists.items())])
    _upsert(session, _ADD_PERIODS, _period_rows(pairs))


def _quarter_rows(buckets: Counter) -> list[dict]:
    """month_quarter_plays rows of per-bucket play counts."""
    quarters: Counter = Counter()
    for bucket, plays in buckets.items():
        quarters[(day_units(bucket // _DAY_QUARTERS)[0], bucket % _DAY_QUARTERS)] += plays
    return [{"month": m, "quarter": q, "plays": n} for (m, q), n in sorted(quarters.items())]


def _period_rows(pairs: list[tuple]) -> list[dict]:
    """One row per (level, unit, track): plays, listened seconds and plays with a length, for track_period_plays."""
    # Months first, one key per play; the years are sums of the months (a time-ordered batch spans one or two).
    months: dict[tuple[int, int], list[int]] = {}
    for pair in pairs:
        track_id, played_at = pair[0], pair[1]
        listened = pair[2] if len(pair) > 2 else None
        key = (day_units(played_at // 86400)[0], track_id)
        entry = months.get(key)
        if entry is None:
            entry = months[key] = [0, 0, 0]
        entry[0] += 1
        if listened is not None:
            entry[1] += listened
            entry[2] += 1
    years: dict[tuple[int, int], list[int]] = {}
    for (month, track_id), values in months.items():
        entry = years.get((month // 12, track_id))
        if entry is None:
            years[(month // 12, track_id)] = list(values)
        else:
            for index, value in enumerate(values):
                entry[index] += value
    rows = [(LEVEL_MONTH, unit, track_id, v) for (unit, track_id), v in months.items()]
    rows += [(LEVEL_YEAR, unit, track_id, v) for (unit, track_id), v in years.items()]
    rows.sort(key=lambda row: row[:3])
    return [{"level": level, "unit": unit, "track_id": track_id, "plays": v[0], "listened": v[1],
             "listened_plays": v[2]} for level, unit, track_id, v in rows]


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
        rows += session.execute(_TRACK_ARTISTS, {"ids": track_ids[i:i + _CHUNK]}).all()
    return rows


def tracks_recounted(session, track_ids) -> None:
    """Recount the totals of tracks whose listens moved between siblings (same artist, same instants:
    buckets and artist totals do not change)."""
    ids = sorted(track_ids)
    for i in range(0, len(ids), _CHUNK):
        part = {"ids": ids[i:i + _CHUNK]}
        for table in ("track_play_totals", "track_period_plays"):
            session.execute(text(f"DELETE FROM {table} WHERE track_id IN :ids").bindparams(
                bindparam("ids", expanding=True)), part)
        session.execute(text(_TOTALS_FROM_LISTENS + " WHERE track_id IN :ids GROUP BY track_id").bindparams(
            bindparam("ids", expanding=True)), part)
        plays = session.execute(text("SELECT track_id, played_at, listened_seconds FROM listens WHERE track_id IN :ids")
                                .bindparams(bindparam("ids", expanding=True)), part).all()
        _upsert(session, _ADD_PERIODS, _period_rows([tuple(row) for row in plays]))


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
    keys = sorted({(level, unit_of(level, pair[1]), pair[0]) for pair in pairs
                   for level in LEVELS})
    rows = [{"level": level, "unit": unit, "track_id": track_id, "lo": unit_start(level, unit),
             "hi": unit_start(level, unit + 1)} for level, unit, track_id in keys]
    session.execute(_DROP_PERIOD, [{k: row[k] for k in ("level", "unit", "track_id")} for row in rows])
    session.execute(_REFILL_PERIOD, rows)


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
    fill_period_plays(session.connection())
    session.execute(text("INSERT INTO listen_buckets (bucket, plays) "
                         "SELECT played_at / 900, COUNT(*) FROM listens GROUP BY played_at / 900"))
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
        columns + f"SELECT {LEVEL_YEAR}, unit / 12, track_id, SUM(plays), SUM(listened_seconds), SUM(listened_plays) "
        f"FROM track_period_plays WHERE level = {LEVEL_MONTH} GROUP BY unit / 12, track_id"))
