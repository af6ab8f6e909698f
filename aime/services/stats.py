"""Listening statistics of a period: totals, peak hour, top artists/albums/tracks by plays or time.

All-time figures read the per-track rollup (track_play_totals); periods read the per-track UTC month/year
rollup (track_period_plays) for the whole months and years inside them and the listens for their edges
(period_cover.py); anything by local time of day reads the 15-minute buckets (localtime.py).
"""
from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal_column, select, text, union_all

from ..config import Config
from ..database import dbapi_cursor
from ..gcpause import without_gc
from ..errors import InvalidInput
from ..extensions import db
from ..models import Album, Artist, Listen, Track
from ..models.rollup import (
    KIND_ALBUM,
    KIND_ARTIST,
    KIND_SONG,
    KIND_TOTAL,
    LEVEL_ALL,
    LEVEL_MONTH,
    ArtistPlayTotal,
    TrackPeriodPlay,
    TrackPlayTotal,
)
from ..timeutil import range_bounds, zone
from .answer_memo import remembered
from .localtime import hours_of_day, local_hours
from .period_cover import ALL, LISTENS, cover, unit_of
from .period_cover import LEVEL_YEAR as _YEAR
from .sql_lists import among as _among, one_of as _one_of

ORDERINGS = ("plays", "duration")


@dataclass(frozen=True)
class Period:
    """Inclusive local days [start_date, end_date] in tz, as epoch bounds [lo, hi) (None where open)."""

    start_date: date | None
    end_date: date | None
    tz: ZoneInfo
    lo: int | None
    hi: int | None

    @property
    def all_time(self) -> bool:
        """True when neither end is bounded."""
        return self.lo is None and self.hi is None

    def listen_clauses(self) -> list:
        """WHERE clauses on Listen.played_at."""
        return period_clauses(self.lo, self.hi)


def period(config: Config, start_date: date | None = None, end_date: date | None = None,
           tz: str | None = None) -> Period:
    """Validate tz and the dates (422) and build the Period."""
    zone_info = zone(tz, config.timezone)
    lo, hi = range_bounds(start_date, end_date, zone_info)
    _check_span(config, start_date, end_date, zone_info)
    return Period(start_date, end_date, zone_info, lo, hi)


def _check_span(config: Config, start_date: date | None, end_date: date | None, tz: ZoneInfo) -> None:
    """422 when a period spans more than AIME_MAX_RANGE_DAYS: work grows with its days (1900-2200 took 5-7 s).

    An open end counts from today; all time (no dates) is read from the rollups and stays allowed.
    """
    if start_date is None and end_date is None:
        return
    today = datetime.now(tz).date()
    first = start_date or min(today, end_date)
    last = end_date or max(today, start_date)
    days = (last - first).days + 1
    if days > config.max_range_days:
        field = "end_date" if end_date is not None else "start_date"
        raise InvalidInput(f"The period spans {days} days; at most {config.max_range_days} "
                           f"(AIME_MAX_RANGE_DAYS) per request.",
                           errors={field: [f"the period may span at most {config.max_range_days} days"]})


def period_clauses(lo: int | None, hi: int | None) -> list:
    """WHERE clauses for a [lo, hi) epoch range (either end open)."""
    clauses = []
    if lo is not None:
        clauses.append(Listen.played_at >= lo)
    if hi is not None:
        clauses.append(Listen.played_at < hi)
    return clauses


def local_plays(p: Period) -> list[tuple[int, int, int]]:
    """(local day number, local hour, plays) for every local hour of the period with plays."""
    return local_hours(p.tz, p.lo, p.hi)


def per_track(p: Period):
    """Subquery (track_id, plays, listened, listened_plays) of the period: the rollups for all time and for
    the whole UTC months and years inside it, the listens for its edges. `listened` sums the plays' own
    lengths, known for `listened_plays` of them."""
    if p.all_time:
        return select(TrackPlayTotal.track_id.label("track_id"), TrackPlayTotal.plays.label("plays"),
                      TrackPlayTotal.listened_seconds.label("listened"),
                      TrackPlayTotal.listened_plays.label("listened_plays")).subquery()
    pieces = _pieces(p.lo, p.hi)
    if pieces is None:
        return _from_listens(p.listen_clauses()).group_by(Listen.track_id).subquery()
    parts = union_all(*(_part(*piece) for piece in pieces)).subquery()
    plays = func.sum(parts.c.plays)
    return (select(parts.c.track_id.label("track_id"), plays.label("plays"),
                   func.sum(parts.c.listened).label("listened"),
                   func.sum(parts.c.listened_plays).label("listened_plays"))
            .group_by(parts.c.track_id).having(plays > 0).subquery())


_LISTEN_SPAN = text("SELECT (SELECT MIN(played_at) FROM listens), (SELECT MAX(played_at) FROM listens)")


def _pieces(lo: int | None, hi: int | None) -> list[tuple] | None:
    """The signed rollup/listen pieces covering [lo, hi); None when the listens alone are read (empty or one piece)."""
    first, last = db.session.execute(_LISTEN_SPAN).one()
    if first is None:
        return None
    lo = first if lo is None else max(lo, first)
    hi = last + 1 if hi is None else min(hi, last + 1)
    if hi <= lo:
        return None
    pieces = cover(lo, hi, unit_of(_YEAR, first), unit_of(_YEAR, last))
    return None if len(pieces) == 1 and pieces[0][1] == LISTENS else pieces


def _from_listens(clauses: list, sign: int = 1):
    """(track_id, plays, listened, listened_plays) of the listens matching clauses, times sign (ungrouped
    when sign is given per row, grouped by the caller)."""
    one = literal_column(str(sign))
    return select(Listen.track_id.label("track_id"), (func.count() * one).label("plays"),
                  (func.coalesce(func.sum(Listen.listened_seconds), 0) * one).label("listened"),
                  (func.count(Listen.listened_seconds) * one).label("listened_plays")).where(*clauses)


def _part(sign: int, level: int, first: int, stop: int):
    """One signed piece of a period, per track."""
    if level == LISTENS:
        return _from_listens(period_clauses(first, stop), sign).group_by(Listen.track_id)
    one = literal_column(str(sign))
    table = TrackPlayTotal if level == ALL else TrackPeriodPlay
    query = select(table.track_id.label("track_id"), (table.plays * one).label("plays"),
                   (table.listened_seconds * one).label("listened"),
                   (table.listened_plays * one).label("listened_plays"))
    if level == ALL:
        return query
    return query.where(TrackPeriodPlay.level == level, TrackPeriodPlay.unit >= first, TrackPeriodPlay.unit < stop)


def listening_seconds(plays, listened, listened_plays):
    """Listening time of a track's plays: each play's own length when known, else the track's length."""
    return listened + (plays - listened_plays) * func.coalesce(Track.duration_seconds, 0)


def unmeasured_plays(plays, listened_plays):
    """Plays with neither their own length nor a track length (they count 0 s)."""
    return case((Track.duration_seconds.is_(None), plays - listened_plays), else_=0)


def totals(p: Period) -> dict:
    """Plays, distinct artists/albums/tracks and listening seconds of the period (and plays of unknown length)."""
    pt = per_track(p)
    row = db.session.execute(
        select(func.coalesce(func.sum(pt.c.plays), 0), func.count(func.distinct(Track.artist_id)),
               func.count(func.distinct(Track.album_id)), func.count(pt.c.track_id),
               func.coalesce(func.sum(listening_seconds(pt.c.plays, pt.c.listened, pt.c.listened_plays)), 0),
               func.coalesce(func.sum(unmeasured_plays(pt.c.plays, pt.c.listened_plays)), 0))
        .select_from(pt).join(Track, Track.id == pt.c.track_id)).one()
    return {"total_tracks": int(row[0]), "unique_artists": row[1], "unique_albums": row[2],
            "unique_tracks": row[3], "total_duration_seconds": int(row[4]), "plays_without_duration": int(row[5])}


def peak_hour(local: list[tuple[int, int, int]]) -> int | None:
    """The local hour with most plays (earliest hour on ties), None without plays."""
    hours = [0] * 24
    for _, hour, plays in local:
        hours[hour] += plays
    return max(range(24), key=lambda h: (hours[h], -h)) if any(hours) else None


def history_stats(config: Config, start_date: date | None = None, end_date: date | None = None,
                  tz: str | None = None, limit: int = 10) -> dict:
    """Totals and top lists of the plays between start_date and end_date (local days, inclusive).

    Kept per worker while the data version is unchanged (answer_memo): a repeated question costs no query."""
    p = period(config, start_date, end_date, tz)
    return remembered(("history_stats", start_date, end_date, p.tz.key, limit),
                      lambda: without_gc(_history_stats, p, limit))


def _history_stats(p: Period, limit: int) -> dict:
    """history_stats() of a validated period, computed."""
    start_date, end_date = p.start_date, p.end_date
    units = _units(p)
    if units is not None:  # from the per-group rollups: a few hundred rows whatever the period
        hours = hours_of_day(p.tz, p.lo, p.hi)
        return {"start_date": start_date, "end_date": end_date, "tz": p.tz.key, **_group_totals(units),
                "peak_hour": peak_hour([(0, h, n) for h, n in enumerate(hours)]),
                **{f"top_{kind}": _group_top(units, kind, limit) for kind in ("artists", "albums", "tracks")}}
    if p.all_time:  # all time reads the all-time rollups (one pass over every track measured no faster)
        return {"start_date": start_date, "end_date": end_date, "tz": p.tz.key, **totals(p),
                "peak_hour": peak_hour([(0, h, n) for h, n in enumerate(hours_of_day(p.tz, None, None))]),
                "top_artists": top_artists(p, limit), "top_albums": top_albums(p, limit),
                "top_tracks": top_tracks(p, limit)}
    tracks = _track_rows(p)
    hours = hours_of_day(p.tz, p.lo, p.hi)
    return {"start_date": start_date, "end_date": end_date, "tz": p.tz.key, **_totals_of(tracks),
            "peak_hour": peak_hour([(0, h, n) for h, n in enumerate(hours)]),
            "top_artists": _top_artists_of(tracks, limit),
            "top_albums": _top_albums_of(tracks, limit), "top_tracks": _top_songs_of(tracks, limit)}


# One pass for a period's summary: the per-track sums of the period are read once (a year is ~12,000 rows
# at 1,000,000 plays) and totals and the three rankings are made from them, instead of four queries that
# each re-add the period. Ties are broken in the database's own collation, as the SQL rankings do.

def _track_rows(p: Period) -> list:
    """(track_id, plays, seconds, unmeasured plays, artist_id, album_id, title_key) of every track of the period.

    Each piece of the period is read on its own and the signed pieces are added here: one GROUP BY of their
    union in the database (a temporary B-tree) cost more than reading a year's rows twice. Every piece yields
    a track once, so the first positive piece (the largest: the rollup rows) fills the sums as they come."""
    pieces = None if p.all_time else _pieces(p.lo, p.hi)
    if pieces is None:
        pt = per_track(p)
        return db.session.execute(
            select(pt.c.track_id, pt.c.plays, listening_seconds(pt.c.plays, pt.c.listened, pt.c.listened_plays),
                   unmeasured_plays(pt.c.plays, pt.c.listened_plays), Track.artist_id, Track.album_id,
                   Track.title_key).select_from(pt).join(Track, Track.id == pt.c.track_id)).all()
    pieces = sorted(pieces, key=lambda piece: (piece[0] < 0, -piece[1]))  # positive first, coarsest first
    dialect = db.session.get_bind().dialect.name
    sums: dict[int, list] = {}
    with dbapi_cursor(db.session) as cursor:
        for number, (sign, level, first, stop) in enumerate(pieces):
            params = {} if level == ALL else {"first": first, "stop": stop}
            if level not in (LISTENS, ALL):
                params["level"] = level
            cursor.execute(_piece_sql(level, dialect, level in (LISTENS, ALL) or stop - first == 1), params)
            if number == 0:
                sums = {row[0]: list(row) for row in cursor}
                continue
            for row in cursor:
                entry = sums.get(row[0])
                if entry is None:
                    sums[row[0]] = entry = [row[0], 0, 0, 0, *row[4:]]
                entry[1] += sign * row[1]
                entry[2] += sign * row[2]
                entry[3] += sign * row[3]
    return [(t, plays, listened + (plays - measured) * (length or 0), plays - measured if length is None else 0,
             artist, album, title) for t, plays, listened, measured, length, artist, album, title in sums.values()
            if plays > 0]


_PIECE_ROWS = {  # (track_id, plays, listened, listened_plays) of one piece, unsigned, one row per track
    LISTENS: "SELECT track_id, COUNT(*) AS plays, COALESCE(SUM(listened_seconds), 0) AS listened, "
             "COUNT(listened_seconds) AS listened_plays FROM listens WHERE played_at >= :first AND played_at < :stop "
             "GROUP BY track_id",
    ALL: "SELECT track_id, plays, listened_seconds AS listened, listened_plays FROM track_play_totals",
    _YEAR: "SELECT track_id, plays, listened_seconds AS listened, listened_plays FROM track_period_plays "
           "WHERE level = :level AND unit >= :first AND unit < :stop",
    # Several units: a track has a row in each, added up here (a sum per track in SQL, as the other pieces).
    -_YEAR: "SELECT track_id, SUM(plays) AS plays, CAST(SUM(listened_seconds) AS BIGINT) AS listened, "
            "SUM(listened_plays) AS listened_plays FROM track_period_plays "
            "WHERE level = :level AND unit >= :first AND unit < :stop GROUP BY track_id",
}


@lru_cache(maxsize=16)
def _piece_sql(level: int, dialect: str, one_row_per_track: bool = True) -> str:
    """The driver-level SQL reading one piece joined to its tracks (the cursor straight: SQLAlchemy's row
    handling doubled the cost of a year's 11,700 rows)."""
    rows = _PIECE_ROWS[level if level in (LISTENS, ALL) else _YEAR if one_row_per_track else -_YEAR]
    sql = (f"SELECT p.track_id, p.plays, p.listened, p.listened_plays, t.duration_seconds, t.artist_id, "
           f"t.album_id, t.title_key FROM ({rows}) AS p JOIN tracks AS t ON t.id = p.track_id")
    return sql if dialect == "sqlite" else re.sub(r":(\w+)", r"%(\1)s", sql)


def _totals_of(tracks: list[tuple]) -> dict:
    """totals() from the per-track rows."""
    return {"total_tracks": int(sum(t[1] for t in tracks)), "unique_artists": len({t[4] for t in tracks}),
            "unique_albums": len({t[5] for t in tracks if t[5] is not None}), "unique_tracks": len(tracks),
            "total_duration_seconds": int(sum(t[2] for t in tracks)),
            "plays_without_duration": int(sum(t[3] for t in tracks))}


def _sums(tracks: list[tuple], index: int, second: int | None = None) -> dict:
    """{group: [plays, seconds]} of the per-track rows by column `index` (and `second`), skipping None keys."""
    sums: dict = {}
    get = sums.get
    for t in tracks:
        k = t[index] if second is None else (t[index], t[second])
        entry = get(k)
        if entry is None:
            sums[k] = [t[1], t[2]]
        else:
            entry[0] += t[1]
            entry[1] += t[2]
    sums.pop(None, None)
    return sums


def _best(sums: dict, limit: int, tie_order, by: str = "plays") -> list:
    """The `limit` keys with most plays then seconds (by="duration": seconds then plays), ties in the order
    tie_order(keys) gives."""
    if not sums or limit <= 0:
        return []
    first, second = (1, 0) if by == "duration" else (0, 1)
    cut = heapq.nlargest(limit, ((v[first], v[second]) for v in sums.values()))[-1]
    candidates = [k for k, v in sums.items() if (v[first], v[second]) >= cut]
    position = {k: i for i, k in enumerate(tie_order(candidates))}
    return sorted(candidates, key=lambda k: (-sums[k][first], -sums[k][second], position[k]))[:limit]


def _in_db_order(column, ids_column, keys: list) -> list:
    """keys ordered by `column` in the database's collation (ids_column holds the keys)."""
    if len(keys) < 2:
        return keys
    return list(db.session.scalars(select(ids_column).where(_one_of(ids_column, keys)).order_by(column, ids_column)))


def _top_artists_of(tracks: list[tuple], limit: int, by: str = "plays") -> list[dict]:
    sums = _sums(tracks, 4)
    best = _best(sums, limit, lambda keys: _in_db_order(Artist.name, Artist.id, keys), by)
    names = dict(db.session.execute(select(Artist.id, Artist.name).where(_one_of(Artist.id, best))).all()
                 ) if best else {}
    return [{"id": k, "name": names[k], "artist": None, "plays": int(sums[k][0]),
             "duration_seconds": int(sums[k][1] or 0)} for k in best]


def _top_albums_of(tracks: list[tuple], limit: int, by: str = "plays") -> list[dict]:
    sums = _sums(tracks, 5)
    best = _best(sums, limit, lambda keys: _in_db_order(Album.title, Album.id, keys), by)
    rows = {r.id: r for r in db.session.execute(
        select(Album.id, Album.title, Artist.name).join(Artist, Artist.id == Album.primary_artist_id)
        .where(_one_of(Album.id, best)))} if best else {}
    return [{"id": k, "name": rows[k].title, "artist": rows[k].name, "plays": int(sums[k][0]),
             "duration_seconds": int(sums[k][1] or 0)} for k in best]


def _song_order(keys: list) -> list:
    """(artist_id, title_key) songs ordered by title_key in the database's collation, then artist_id."""
    titles = sorted({k[1] for k in keys})
    if len(titles) > 1:
        titles = list(db.session.scalars(select(Track.title_key).where(_one_of(Track.title_key, titles))
                                         .group_by(Track.title_key).order_by(Track.title_key)))
    rank = {title: i for i, title in enumerate(titles)}
    return sorted(keys, key=lambda k: (rank[k[1]], k[0]))


def _top_songs_of(tracks: list[tuple], limit: int, by: str = "plays") -> list[dict]:
    sums = _sums(tracks, 4, 6)
    best = _best(sums, limit, _song_order, by)
    if not best:
        return []
    wanted = set(best)
    faces: dict = {}
    for t in tracks:
        key = (t[4], t[6])
        rank = (t[5] is not None, t[1], -t[0])  # as _song_faces: an album, then more plays, then the older row
        if key in wanted and (key not in faces or rank > faces[key]):
            faces[key] = rank
    ids = [-rank[2] for rank in faces.values()]
    rows = {r.id: r for r in db.session.execute(
        select(Track.id, Track.title, Artist.name, Track.album_id, Album.title.label("album"))
        .join(Artist, Artist.id == Track.artist_id).outerjoin(Album, Album.id == Track.album_id)
        .where(_one_of(Track.id, ids)))}
    return [{"id": r.id, "name": r.title, "artist": r.name, "album": r.album, "album_id": r.album_id,
             "plays": int(sums[k][0]), "duration_seconds": int(sums[k][1] or 0)}
            for k, r in ((k, rows[-faces[k][2]]) for k in best)]


def top_list(config: Config, kind: str, start_date: date | None = None, end_date: date | None = None,
             tz: str | None = None, limit: int = 10, by: str = "plays") -> dict:
    """Top artists, albums or tracks of a period, by play count or by listening time."""
    p = period(config, start_date, end_date, tz)
    items = remembered(("top_list", kind, start_date, end_date, p.tz.key, limit, by),
                       lambda: without_gc(_top_items, p, kind, limit, by))
    return {"kind": kind, "by": by, "start_date": start_date, "end_date": end_date, "tz": p.tz.key,
            "items": items}


def _top_items(p: Period, kind: str, limit: int, by: str) -> list[dict]:
    """The ranked items of top_list(), computed."""
    units = _units(p) if by == "plays" else None
    if units is not None:
        return _group_top(units, kind, limit)
    if p.all_time:
        return {"artists": top_artists, "albums": top_albums, "tracks": top_tracks}[kind](p, limit, by)
    rank = {"artists": _top_artists_of, "albums": _top_albums_of, "tracks": _top_songs_of}[kind]
    return rank(_track_rows(p), limit, by)


def _ranked(rows) -> list[dict]:
    return [{"id": r.id, "name": r.name, "artist": getattr(r, "artist", None), "plays": int(r.plays),
             "duration_seconds": int(r.duration or 0)} for r in rows]


def _order(plays, duration, by: str, name) -> tuple:
    first, second = (duration, plays) if by == "duration" else (plays, duration)
    return first.desc(), second.desc(), name


def _grouped(p: Period, key):
    """Subquery (key, plays, duration) per artist or album: grouping on the id alone lets the database
    walk an index instead of sorting every row by name."""
    pt = per_track(p)
    return (select(key.label("key"), func.sum(pt.c.plays).label("plays"),
                   func.sum(listening_seconds(pt.c.plays, pt.c.listened, pt.c.listened_plays)).label("duration"))
            .select_from(pt).join(Track, Track.id == pt.c.track_id).where(key.is_not(None))
            .group_by(key).subquery())


def _top_artists_all_time(limit: int) -> list[dict]:
    """All-time artists by plays from the artist rollup: only the rows that can make the list are read."""
    threshold = db.session.scalar(select(ArtistPlayTotal.plays).order_by(ArtistPlayTotal.plays.desc())
                                  .offset(limit - 1).limit(1)) or 1
    duration = func.sum(listening_seconds(TrackPlayTotal.plays, TrackPlayTotal.listened_seconds,
                                          TrackPlayTotal.listened_plays))
    seconds = (select(Track.artist_id.label("key"), duration.label("duration"))
               .join(TrackPlayTotal, TrackPlayTotal.track_id == Track.id).group_by(Track.artist_id)
               .where(Track.artist_id.in_(select(ArtistPlayTotal.artist_id).where(ArtistPlayTotal.plays >= threshold)))
               .subquery())
    query = (select(Artist.id, Artist.name, ArtistPlayTotal.plays.label("plays"), seconds.c.duration)
             .join(ArtistPlayTotal, ArtistPlayTotal.artist_id == Artist.id).join(seconds, seconds.c.key == Artist.id)
             .order_by(*_order(ArtistPlayTotal.plays, seconds.c.duration, "plays", Artist.name)).limit(limit))
    return _ranked(db.session.execute(query).all())


def top_artists(p: Period, limit: int, by: str = "plays") -> list[dict]:
    """Artists of the period ranked by plays (or listening time)."""
    if p.all_time and by == "plays":
        return _top_artists_all_time(limit)
    grouped = _grouped(p, Track.artist_id)
    query = (select(Artist.id, Artist.name, grouped.c.plays, grouped.c.duration)
             .join(grouped, grouped.c.key == Artist.id)
             .order_by(*_order(grouped.c.plays, grouped.c.duration, by, Artist.name)).limit(limit))
    return _ranked(db.session.execute(query).all())


def top_albums(p: Period, limit: int, by: str = "plays") -> list[dict]:
    """Albums of the period ranked by plays (or listening time)."""
    grouped = _grouped(p, Track.album_id)
    query = (select(Album.id, Album.title.label("name"), Artist.name.label("artist"), grouped.c.plays,
                    grouped.c.duration)
             .join(grouped, grouped.c.key == Album.id).join(Artist, Artist.id == Album.primary_artist_id)
             .order_by(*_order(grouped.c.plays, grouped.c.duration, by, Album.title)).limit(limit))
    return _ranked(db.session.execute(query).all())


def top_tracks(p: Period, limit: int, by: str = "plays") -> list[dict]:
    """Songs (artist + title, across every album they appear on) ranked by plays (or listening time),
    each shown with its most played album."""
    pt = per_track(p)
    plays = func.sum(pt.c.plays).label("plays")
    duration = func.sum(listening_seconds(pt.c.plays, pt.c.listened, pt.c.listened_plays)).label("duration")
    songs = db.session.execute(
        select(Track.artist_id, Track.title_key, plays, duration).select_from(pt)
        .join(Track, Track.id == pt.c.track_id).group_by(Track.artist_id, Track.title_key)
        .order_by(*_order(plays, duration, by, Track.title_key), Track.artist_id).limit(limit)).all()
    shown = _song_faces(pt, songs)
    return [{**shown[(s.artist_id, s.title_key)], "plays": int(s.plays), "duration_seconds": int(s.duration or 0)}
            for s in songs]


def _song_faces(pt, songs) -> dict[tuple[int, str], dict]:
    """For each (artist_id, title_key): the track row to show, the one of its most played album."""
    if not songs:
        return {}
    wanted = {(s.artist_id, s.title_key) for s in songs}
    rows = db.session.execute(
        select(Track.id, Track.artist_id, Track.title_key, Track.title, Artist.name, Track.album_id,
               Album.title.label("album"), pt.c.plays).select_from(pt)
        .join(Track, Track.id == pt.c.track_id).join(Artist, Artist.id == Track.artist_id)
        .outerjoin(Album, Album.id == Track.album_id)
        .where(_one_of(Track.artist_id, {a for a, _ in wanted}),
               _one_of(Track.title_key, {t for _, t in wanted}))).all()
    best: dict[tuple[int, str], tuple] = {}
    for row in rows:
        key = (row.artist_id, row.title_key)
        # An album beats no album; then more plays; then the older track row.
        rank = (row.album_id is not None, row.plays, -row.id)
        if key in wanted and (key not in best or rank > best[key][0]):
            best[key] = (rank, row)
    return {key: {"id": r.id, "name": r.title, "artist": r.name, "album": r.album, "album_id": r.album_id}
            for key, (_, r) in best.items()}



# From the per-group rollups (group_period_plays, migration 0021). A period is a few signed units (months, years,
# all time) plus listens at its edges (period_cover). The coarsest positive unit is the base: its groups are read
# in order of plays from the index, as far as needed; the other pieces are corrections, read whole (they are
# small: the edges). A group's plays are its base plays plus its corrections, so the walk can stop once the
# k-th best is above every base row not yet read (groups raised by a correction are looked up first).
# Durations, the song's shown album and ties are computed for the candidates only, from their tracks' rows.

_TRACKS = -1  # kind: the per-track rows of track_period_plays (for the count of distinct tracks)
_GROUP_KIND = {"artists": KIND_ARTIST, "albums": KIND_ALBUM, "tracks": KIND_SONG}
_WALK_PAGE = 64
_EDGE_MONTH_PLAYS = 1000  # a span of years with more plays than this in its edge months is read track by track


class _Units(list):
    """The signed pieces of a period, one rollup unit each, with the corrections already read (per kind)."""

    def __init__(self, pieces):
        super().__init__(pieces)
        self.corrections: dict[int, dict] = {}
        self.listens: dict[tuple[int, int], list] = {}

    def listen_rows(self, lo: int, hi: int) -> list:
        """(track_id, artist_id, album_id, title_key, listened_seconds, track length) of the listens in [lo, hi),
        read once (an
        edge of a period: at most about half a month)."""
        if (lo, hi) not in self.listens:
            self.listens[(lo, hi)] = _fetch(
                "SELECT l.track_id, t.artist_id, t.album_id, t.title_key, l.listened_seconds, t.duration_seconds "
                "FROM listens l "
                "JOIN tracks t ON t.id = l.track_id WHERE l.played_at >= :lo AND l.played_at < :hi",
                {"lo": lo, "hi": hi})
        return self.listens[(lo, hi)]


def _units(p: Period) -> _Units | None:
    """(sign, level, unit) for each rollup unit of the period, (sign, LISTENS, lo, hi) for its edges read from
    the listens; None when the period is read from the listens alone (short periods), or when it is a span of
    years with more than _EDGE_MONTH_PLAYS plays in the months at its edges. A span of years is several year units,
    or all time minus the years outside it (period_cover): see _big."""
    if p.all_time:
        return _Units([(1, LEVEL_ALL, 0)])
    pieces = _pieces(p.lo, p.hi)
    if pieces is None:
        return None
    units = _Units([])
    for sign, level, first, stop in pieces:
        if level == LISTENS:
            units.append((sign, LISTENS, first, stop))
        elif level == ALL:
            units.append((sign, LEVEL_ALL, 0))
        else:
            units.extend((sign, level, unit) for unit in range(first, stop))
    months = [unit[2] for unit in units if unit[1] == LEVEL_MONTH]
    if months and len(_big(units)) > 1:
        # Months at the edges of a span of years: each of their groups is looked up in every year. With a month or
        # more of plays that was measured slower than the per-track path (1,000,000 plays: 2013-03-10..2024-10-20
        # 243 against 253 ms; 2018-05-03..2021-02-27 America/St_Johns 220 against 142 ms); months past the
        # newest (or before the oldest) play are empty.
        among, values = _among("unit", sorted(set(months)))
        plays = db.session.execute(text(f"SELECT COALESCE(SUM(plays), 0) FROM group_period_plays WHERE kind = "
                                        f"{KIND_TOTAL} AND level = {LEVEL_MONTH} AND {among}"), values).scalar()
        if plays > _EDGE_MONTH_PLAYS:
            return None
    return units


def _base(units: list[tuple]) -> tuple:
    """The coarsest positive rollup unit (all time, then a year, then a month)."""
    return max((u for u in units if u[0] > 0 and u[1] != LISTENS), key=lambda u: u[1])


def _big(units: list[tuple]) -> list[tuple]:
    """The units read by key, never whole: the years and all time of a period (a span of years is several years, or
    all time minus the years outside it), else its base month. The others (months at the edges, listens, the other
    months of a span of months) are small and read whole as corrections."""
    return [u for u in units if u[1] in (_YEAR, LEVEL_ALL)] or [_base(units)]


def _fetch(sql: str, params: dict) -> list:
    """Every row of `sql` (":name" parameters) through the DB-API cursor: the edges and lookups of a span of years
    are thousands of rows, and SQLAlchemy's row handling cost several times sqlite3's own stepping."""
    if db.session.get_bind().dialect.name != "sqlite":
        sql = _pyformat(sql)
    with dbapi_cursor(db.session) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """":name" parameters as psycopg's "%(name)s"."""
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)


def _rows_sql(kind: int) -> str:
    """(key_id, title_key, plays) of one unit of `kind`."""
    if kind == _TRACKS:
        return "SELECT track_id, '', plays FROM track_period_plays WHERE level = :level AND unit = :unit"
    return (f"SELECT key_id, title_key, plays FROM group_period_plays WHERE kind = {kind} AND level = :level "
            "AND unit = :unit")


_LISTEN_KEY = {KIND_TOTAL: lambda r: (0, ""), KIND_ARTIST: lambda r: (r[1], ""),
               KIND_ALBUM: lambda r: (r[2], "") if r[2] is not None else None, KIND_SONG: lambda r: (r[1], r[3]),
               _TRACKS: lambda r: (r[0], "")}


def _piece_plays(kind: int, unit: tuple, units: _Units) -> dict:
    """{(key_id, title_key): plays} of one piece (unsigned)."""
    if unit[1] == LISTENS:
        plays: dict = {}
        key_of = _LISTEN_KEY[kind]
        for row in units.listen_rows(unit[2], unit[3]):
            key = key_of(row)
            if key is not None:
                plays[key] = plays.get(key, 0) + 1
        return plays
    return {(k, t): n for k, t, n in _fetch(_rows_sql(kind), {"level": unit[1], "unit": unit[2]})}


def _corrections(kind: int, units: _Units) -> dict:
    """{key: signed plays} of every small piece (not in _big), read once per kind."""
    if kind in units.corrections:
        return units.corrections[kind]
    big = _big(units)
    total: dict = {}
    for unit in units:
        if unit in big:
            continue
        for key, plays in _piece_plays(kind, unit, units).items():
            total[key] = total.get(key, 0) + unit[0] * plays
    units.corrections[kind] = total = {key: n for key, n in total.items() if n}
    return total


def _big_plays(kind: int, big: list[tuple], keys) -> dict:
    """{key: signed plays of the big units} for the given keys (absent: no row in any)."""
    keys = list(keys)
    found: dict = {}
    ids = sorted({k for k, _ in keys})
    wanted = set(keys)
    column = "track_id" if kind == _TRACKS else "key_id"
    for unit in big:
        for i in range(0, len(ids), 5000):
            among, values = _among(column, ids[i:i + 5000])
            for k, t, n in _fetch(_rows_sql(kind) + f" AND {among}", {"level": unit[1], "unit": unit[2], **values}):
                if (k, t) in wanted:
                    found[(k, t)] = found.get((k, t), 0) + unit[0] * n
    return found


def _count(kind: int, units: _Units, count: int) -> int:
    """Number of groups (or tracks) of `kind` with plays in the period, given `count`: those of the big units."""
    corrections = _corrections(kind, units)
    known = _big_plays(kind, _big(units), corrections)
    for key, delta in corrections.items():
        before = known.get(key, 0)
        count += (before + delta > 0) - (before > 0)
    return count


def _big_count_sql(kind: int, big: list[tuple]) -> str:
    """SQL counting the groups (or tracks) of `kind` with plays in the signed sum of the big units: those of the
    positive units less the keys of the negative ones (years outside a span) that have no play left."""
    table, key = ("track_period_plays", ("track_id",)) if kind == _TRACKS else ("group_period_plays",
                                                                              ("key_id", "title_key"))
    of_kind = "" if kind == _TRACKS else f"kind = {kind} AND "

    def where(units: list[tuple], alias: str = "") -> str:  # a run of years as one range: an index range scan
        runs: list[list[int]] = []
        for _, level, unit in sorted(units, key=lambda u: (u[1], u[2])):
            if runs and runs[-1][0] == level and runs[-1][2] == unit:
                runs[-1][2] = unit + 1
            else:
                runs.append([int(level), int(unit), int(unit) + 1])
        return of_kind.replace("kind", alias + "kind") + "(" + " OR ".join(
            f"({alias}level = {level} AND {alias}unit = {a})" if b == a + 1 else
            f"({alias}level = {level} AND {alias}unit >= {a} AND {alias}unit < {b})" for level, a, b in runs) + ")"

    positive = [u for u in big if u[0] > 0]
    negative = [u for u in big if u[0] < 0]
    keys = ", ".join(key)
    if len(positive) == 1:
        count = f"(SELECT COUNT(*) FROM {table} WHERE {where(positive)})"
    else:
        count = f"(SELECT COUNT(*) FROM (SELECT {keys} FROM {table} WHERE {where(positive)} GROUP BY {keys}) AS k)"
    if not negative:
        return count
    same = " AND ".join(f"p.{k} = n.{k}" for k in key)
    return (f"({count} - (SELECT COUNT(*) FROM (SELECT {keys}, SUM(plays) AS plays FROM {table} "
            f"WHERE {where(negative)} GROUP BY {keys}) AS n WHERE n.plays >= "
            f"(SELECT SUM(p.plays) FROM {table} AS p WHERE {where(positive, 'p.')} AND {same})))")


def _group_totals(units: _Units) -> dict:
    """totals() of the period from the rollups."""
    plays = 0
    seconds = unmeasured = 0
    # One statement (one round trip on PostgreSQL): the big units' counts of artists, albums and tracks, then the
    # kind-0 row (plays, seconds, plays of unknown length) of every rollup unit.
    big = _big(units)
    where = "level = {} AND unit = {}"
    counts = [_big_count_sql(kind, big) for kind in (KIND_ARTIST, KIND_ALBUM, _TRACKS)]
    rollup = [unit for unit in units if unit[1] != LISTENS]
    totals = [f"(SELECT {column} FROM group_period_plays WHERE kind = {KIND_TOTAL} AND "
              f"{where.format(int(unit[1]), int(unit[2]))} AND key_id = 0 AND title_key = '')"
              for unit in rollup for column in ("plays", "seconds", "unmeasured")]
    found = [int(n or 0) for n in db.session.execute(text("SELECT " + ", ".join(counts + totals))).one()]
    artists, albums, tracks = found[:3]
    for i, unit in enumerate(rollup):
        plays += unit[0] * found[3 + 3 * i]
        seconds += unit[0] * found[4 + 3 * i]
        unmeasured += unit[0] * found[5 + 3 * i]
    for unit in units:
        if unit[1] == LISTENS:
            rows = units.listen_rows(unit[2], unit[3])
            plays += unit[0] * len(rows)
            seconds += unit[0] * sum(r[4] if r[4] is not None else (r[5] or 0) for r in rows)
            unmeasured += unit[0] * sum(1 for r in rows if r[4] is None and r[5] is None)
    return {"total_tracks": plays, "unique_artists": _count(KIND_ARTIST, units, artists),
            "unique_albums": _count(KIND_ALBUM, units, albums), "unique_tracks": _count(_TRACKS, units, tracks),
            "total_duration_seconds": seconds, "plays_without_duration": unmeasured}


def _candidates(kind: int, units: _Units, limit: int) -> dict:
    """{key: plays} of every group whose plays reach the `limit`-th best of the period (ties included).

    Each positive big unit is walked in order of plays, side by side (the threshold algorithm): a group not read
    yet has at most the sum of the last plays read in each (negative units and corrections only lower it, the
    groups a correction raises being looked up first), so the walk stops once the k-th best is above that."""
    if limit <= 0:
        return {}
    big = _big(units)
    corrections = _corrections(kind, units)
    raised = [key for key, delta in corrections.items() if delta > 0]
    plays = {key: n + corrections[key] for key, n in _big_plays(kind, big, raised).items()}
    for key in raised:
        plays.setdefault(key, corrections[key])
    walks = [[unit, 0, 1] for unit in big if unit[0] > 0]  # unit, rows read, plays of the last (0: read to the end)
    while True:
        new = set()
        for row in _walk_pages(kind, walks):
            key = (row[0], row[1])
            if key in plays:
                continue
            if len(big) == 1:  # the row is the group's whole big part
                plays[key] = row[2] + corrections.get(key, 0)
            else:
                new.add(key)
        if new:
            found = _big_plays(kind, big, new)
            for key in new:
                plays[key] = found.get(key, 0) + corrections.get(key, 0)
        bound = sum(walk[2] for walk in walks)
        if not bound:
            break
        positive = [n for n in plays.values() if n > 0]
        if len(positive) >= limit and heapq.nlargest(limit, positive)[-1] > bound:
            break
    positive = [n for n in plays.values() if n > 0]
    if not positive:
        return {}
    cut = heapq.nlargest(limit, positive)[-1]
    return {key: n for key, n in plays.items() if n >= cut}


def _walk_pages(kind: int, walks: list[list]) -> list:
    """The next page of rows (key_id, title_key, plays) of each walk not read to its end, in order of plays."""
    # Ties in plays ordered by the key too (a unit's rows are unique by it): pages of LIMIT/OFFSET over a partial
    # order may return tied rows in another order each time, skipping one group and reading another twice.
    statement = text(_rows_sql(kind) + " ORDER BY 3 DESC, 1, 2 LIMIT :n OFFSET :skip")
    found = []
    for walk in walks:
        unit, skip, last = walk
        if last:
            rows = db.session.execute(statement, {"level": unit[1], "unit": unit[2], "n": _WALK_PAGE,
                                                  "skip": skip}).all()
            walk[1] = skip + len(rows)
            walk[2] = rows[-1][2] if len(rows) == _WALK_PAGE else 0
            found.extend(rows)
    return found


def _candidate_track_sums(kind: int, keys, units: _Units) -> tuple[list, dict]:
    """([(id, duration_seconds, artist_id, album_id, title_key)] of the groups' tracks, {track: [plays, listened,
    listened_plays]} of the period): the tracks joined to their per-track rows of the period's rollup units, one
    statement per 5,000 groups (one round trip on PostgreSQL), plus the edges' listens."""
    ids = sorted({k for k, _ in keys})
    wanted = set(keys)
    column = "album_id" if kind == KIND_ALBUM else "artist_id"
    signs: dict[tuple[int, int], int] = {}
    for unit in units:
        if unit[1] != LISTENS:
            signs[(int(unit[1]), int(unit[2]))] = signs.get((int(unit[1]), int(unit[2])), 0) + unit[0]
    match = " OR ".join(f"(p.level = {level} AND p.unit = {unit})" for level, unit in signs)
    tracks: dict[int, tuple] = {}
    sums: dict = {}
    for i in range(0, len(ids), 5000):
        among, values = _among(f"t.{column}", ids[i:i + 5000])
        statement = text(
            "SELECT t.id, t.duration_seconds, t.artist_id, t.album_id, t.title_key, p.level, p.unit, p.plays, "
            "p.listened_seconds, p.listened_plays FROM tracks t LEFT JOIN track_period_plays p "
            f"ON p.track_id = t.id AND ({match}) WHERE {among}")
        for row in db.session.execute(statement, values):
            if kind == KIND_SONG and (row[2], row[4]) not in wanted:
                continue
            tracks.setdefault(row[0], tuple(row[:5]))
            if row[5] is not None:
                sign = signs[(row[5], row[6])]
                entry = sums.setdefault(row[0], [0, 0, 0])
                entry[0] += sign * row[7]
                entry[1] += sign * int(row[8])
                entry[2] += sign * row[9]
    wanted_tracks = set(tracks)
    for unit in units:
        if unit[1] == LISTENS:
            for row in units.listen_rows(unit[2], unit[3]):
                if row[0] in wanted_tracks:
                    entry = sums.setdefault(row[0], [0, 0, 0])
                    entry[0] += unit[0]
                    if row[4] is not None:
                        entry[1] += unit[0] * row[4]
                        entry[2] += unit[0]
    return list(tracks.values()), sums


def _group_top(units: list[tuple], kind: str, limit: int) -> list[dict]:
    """The top `limit` artists, albums or songs of the period by plays, from the per-group rollups."""
    group = _GROUP_KIND[kind]
    candidates = _candidates(group, units, limit)
    if not candidates:
        return []
    rank = {"artists": _top_artists_of, "albums": _top_albums_of, "tracks": _top_songs_of}[kind]
    if kind != "tracks" and len(units) == 1 and units[0][0] == 1 and units[0][1] != LISTENS:
        return rank(_group_sums(group, candidates, units[0]), limit)
    tracks, sums = _candidate_track_sums(group, candidates, units)
    # (track_id, plays, seconds, unmeasured, artist_id, album_id, title_key) as _track_rows gives them
    rows = []
    for track_id, length, artist_id, album_id, title_key in tracks:
        plays, listened, measured = sums.get(track_id, (0, 0, 0))
        if plays > 0:
            rows.append((track_id, plays, listened + (plays - measured) * (length or 0), 0, artist_id, album_id,
                         title_key))
    return rank(rows, limit)


def _group_sums(kind: int, keys, unit: tuple) -> list[tuple]:
    """What _candidate_track_sums gives _top_artists_of / _top_albums_of, summed per group by the database, for a
    period that is one rollup unit (all time, one year): one row per artist or album (0, plays, seconds, 0,
    artist_id, album_id, ''). The seconds are each track's listened seconds plus its current length for the plays
    without them, as there; the all-time top artists read ~6,000 tracks at 1,000,000 plays, and handing each to
    Python cost more than summing them in SQL (docs/benchmarks.md, "SQLite read p99"). CROSS JOIN: SQLite then
    walks the groups' tracks and looks each up in the unit, as the per-track path does, instead of scanning the
    unit's ~50,000 rows (PostgreSQL plans it as an inner join)."""
    column = "album_id" if kind == KIND_ALBUM else "artist_id"
    found = []
    ids = sorted({k for k, _ in keys})
    for i in range(0, len(ids), 5000):
        among, values = _among(f"t.{column}", ids[i:i + 5000])
        found.extend(_fetch(
            f"SELECT t.{column}, CAST(SUM(p.plays) AS BIGINT), CAST(SUM(p.listened_seconds + (p.plays - "
            "p.listened_plays) * COALESCE(t.duration_seconds, 0)) AS BIGINT) FROM tracks t CROSS JOIN "
            f"track_period_plays p WHERE {among} AND p.level = :level AND p.unit = :unit AND p.track_id = t.id "
            f"AND p.plays > 0 GROUP BY t.{column}", {"level": int(unit[1]), "unit": int(unit[2]), **values}))
    if kind == KIND_ALBUM:
        return [(0, plays, seconds, 0, None, key, "") for key, plays, seconds in found]
    return [(0, plays, seconds, 0, key, None, "") for key, plays, seconds in found]
