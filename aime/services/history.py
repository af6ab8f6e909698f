"""The listening history: the journal, recording plays, loving tracks, the day timeline."""
from __future__ import annotations

import math
from datetime import date, datetime

from sqlalchemy import Select, func, select, text

from ..config import Config
from ..database import run_write
from ..errors import Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import Album, Artist, Listen, Track
from ..models.rollup import LEVEL_MONTH
from ..timeutil import day_bounds, range_bounds, utcnow, zone, to_epoch
from .catalog import contains, get_or_create_album, get_or_create_artist, get_or_create_track
from . import listen_totals, rollups
from .answer_memo import remembered
from .paging import Page, offset
from .period_cover import unit_start
from .sql_lists import one_of

DEFAULT_TRACK_SECONDS = 180  # used to space a record's plays when a track has no duration


def _journal_select() -> Select:
    return (select(Listen.id, Listen.played_at, Listen.source, Listen.track_id,
                   Track.title, Track.loved, Artist.name.label("artist"),
                   Album.id.label("album_id"), Album.title.label("album"), Album.year, Album.image_url)
            .join(Track, Track.id == Listen.track_id)
            .join(Artist, Artist.id == Track.artist_id)
            .outerjoin(Album, Album.id == Track.album_id))


def listen_item(row) -> dict:
    """A journal row as the API shows it."""
    return {"id": row.id, "played_at": row.played_at, "artist": row.artist, "title": row.title,
            "album": row.album, "album_id": row.album_id, "track_id": row.track_id, "year": row.year,
            "loved": row.loved, "source": row.source, "album_image": row.image_url}


def journal(config: Config, page: int = 1, page_size: int = 50, source: str | None = None,
            loved: bool | None = None, artist: str | None = None, album: str | None = None,
            start_date: date | None = None, end_date: date | None = None, tz: str | None = None) -> Page:
    """Plays newest first, filtered, one page."""
    lo, hi = range_bounds(start_date, end_date, zone(tz, config.timezone))
    clauses = []
    if lo is not None:
        clauses.append(Listen.played_at >= lo)
    if hi is not None:
        clauses.append(Listen.played_at < hi)
    if source:
        clauses.append(Listen.source == source)
    if loved is not None:
        clauses.append(Track.loved.is_(loved))
    if artist:
        clauses.append(Artist.name_key.like(contains(artist), escape="\\"))
    if album:
        clauses.append(Album.title_key.like(contains(album), escape="\\"))
    # count(*), not count(listens.id): SQLite then counts the narrow (played_at, track_id) index
    # instead of reading every row (27 ms instead of 370 ms at 1,000,000 listens).
    count_query = select(func.count()).select_from(Listen)
    needs_track = loved is not None or bool(artist) or bool(album)
    if needs_track:
        count_query = count_query.join(Track, Track.id == Listen.track_id)
    if artist:
        count_query = count_query.join(Artist, Artist.id == Track.artist_id)
    if album:
        count_query = count_query.join(Album, Album.id == Track.album_id)
    total = listen_totals.total(count_query.where(*clauses), (lo, hi, source, loved, artist, album), bool(clauses))
    # (played_at, track_id) is unique, so this order is total and served by ix_listens_played_at_track.
    order = (Listen.played_at.desc(), Listen.track_id.desc())
    skip = offset(page, page_size)
    if needs_track:
        page_query = _journal_select().where(*clauses).order_by(*order).limit(page_size).offset(skip)
    else:
        # Skip `offset` rows on the index alone, then join only the page's rows: deep pages stay cheap.
        if not clauses:
            clauses, skip = _seek_clauses(skip)
        ids = select(Listen.id).where(*clauses)
        ids = ids.order_by(*order).limit(page_size).offset(skip).scalar_subquery()
        page_query = _journal_select().where(Listen.id.in_(ids)).order_by(*order)
    rows = db.session.execute(page_query).all()
    return Page(items=[listen_item(r) for r in rows], total=total, page=page, page_size=page_size)


# Rows skipped from which a page of the whole journal starts at a month (_seek), on PostgreSQL: SQLite walks its
# index in-process faster than the month sums are read (page 500 of 30,000 plays: 3.6-4.7 ms against 5.0-5.9 ms).
SEEK_FROM = 2_000
_SEEK_MONTHS = 12
_MONTH_PLAYS = text("SELECT month, SUM(plays) FROM month_quarter_plays WHERE month < :below GROUP BY month "
                    "ORDER BY month DESC LIMIT :months")


def month_seek(skip: int) -> tuple[int | None, int]:
    """(played_at bound, offset) of the unfiltered journal's page from row `skip`: on PostgreSQL from SEEK_FROM rows
    the page starts at the UTC month holding that row (_seek), else (None, skip): OFFSET from the top."""
    if skip >= SEEK_FROM and db.session.get_bind().dialect.name == "postgresql":
        return _seek(skip)
    return None, skip


def _seek_clauses(skip: int) -> tuple[list, int]:
    below, skip = month_seek(skip)
    return ([] if below is None else [Listen.played_at < below]), skip


def _seek(skip: int) -> tuple[int | None, int]:
    """(bound, offset) of the unfiltered journal that starts at the UTC month holding row `skip` (newest first):
    the page is the rows played before `bound` (None: no bound) from `offset` on.

    month_quarter_plays holds the plays of each UTC month (kept exact by every writer, in the writer's
    transaction), so the plays of the months after month M are exactly the listens played from M + 1's first
    second on: the page is the same, but the OFFSET walks the index from that month's end, not the whole
    journal's (page 500 of 50 skipped 25,000 index entries). Months are summed newest first: 12, then as many as
    the plays left need at the rate seen (at least twice as many as the time before)."""
    before, below, wanted, seen = 0, _NO_MONTH, _SEEK_MONTHS, 0
    while True:
        months = db.session.execute(_MONTH_PLAYS, {"below": below, "months": wanted}).all()
        seen += len(months)
        for month, plays in months:
            if before + int(plays) > skip:
                return unit_start(LEVEL_MONTH, month + 1), skip - before
            before += int(plays)
        if len(months) < wanted:  # past the oldest play: the page is empty, as OFFSET would find it
            return None, skip
        # Enough months for what is left at the rate seen so far (a quarter more), at least twice as many.
        rate = before / seen if before else 0
        below, wanted = months[-1][0], max(wanted * 2, math.ceil((skip - before) / rate * 1.25) if rate else 0)


_NO_MONTH = 2**31 - 1


def get_listen(listen_id: int) -> dict:
    """One play as the journal shows it, or 404."""
    row = db.session.execute(_journal_select().where(Listen.id == listen_id)).first()
    if row is None:
        raise NotFound(f"Listen {listen_id} does not exist.")
    return listen_item(row)


def is_duplicate(track_id: int, played_at: int, window: int) -> bool:
    """True when the track already has a play within `window` seconds of played_at."""
    return db.session.scalar(select(func.count(Listen.id)).where(
        Listen.track_id == track_id, Listen.played_at.between(played_at - window, played_at + window))) > 0


def record_listen(config: Config, data: dict, *, source: str = "manual") -> dict:
    """Store one play (now, or back-dated); 409 if the same play is already there."""
    listen_id = run_write(_record_listen, config, data, source)
    return get_listen(listen_id)


def _record_listen(config: Config, data: dict, source: str) -> int:
    played_at = data.get("played_at") or to_epoch(utcnow())
    if played_at > to_epoch(utcnow()) + 300:
        raise InvalidInput("A listen cannot be in the future.", errors={"played_at": ["is in the future"]})
    artist = get_or_create_artist(data["artist"])
    album = get_or_create_album(data["album"], artist, source=source) if data.get("album") else None
    track = get_or_create_track(data["title"], artist, album, duration_seconds=data.get("duration_seconds"))
    if is_duplicate(track.id, played_at, config.dedup_window_seconds):
        raise Conflict("This play is already in the history (same track within "
                       f"{config.dedup_window_seconds} s).")
    listen = Listen(track_id=track.id, played_at=played_at, source=source)
    db.session.add(listen)
    db.session.flush()
    rollups.listens_added(db.session, [(track.id, played_at)])
    return listen.id


def listen_to_album(config: Config, album_id: int, data: dict) -> dict:
    """Record a whole record (or some of its tracks) played from started_at, tracks spaced by duration."""
    ids, duplicates = run_write(_listen_to_album, config, album_id, data)
    rows = []
    if ids:
        rows = db.session.execute(_journal_select().where(one_of(Listen.id, ids)).order_by(Listen.played_at)).all()
    return {"album_id": album_id, "created": len(ids), "duplicates": duplicates,
            "listens": [listen_item(r) for r in rows]}


def _listen_to_album(config: Config, album_id: int, data: dict) -> tuple[list[int], int]:
    album = db.session.get(Album, album_id)
    if album is None:
        raise NotFound(f"Album {album_id} does not exist.")
    tracks = [t for t in album.tracks if t.track_number is not None]
    wanted = data.get("track_numbers")
    if wanted:
        tracks = [t for t in tracks if t.track_number in set(wanted)]
    if not tracks:
        raise InvalidInput("This album has no tracks to play.", errors={"track_numbers": ["no matching tracks"]})
    lengths = [t.duration_seconds or DEFAULT_TRACK_SECONDS for t in tracks]
    now = to_epoch(utcnow())
    start = data.get("started_at") or now - sum(lengths)
    if start > now + 300:
        raise InvalidInput("A listen cannot be in the future.", errors={"started_at": ["is in the future"]})
    ids, duplicates, moment = [], 0, start
    for track, length in zip(tracks, lengths, strict=True):
        if is_duplicate(track.id, moment, config.dedup_window_seconds):
            duplicates += 1
        else:
            listen = Listen(track_id=track.id, played_at=moment, source="manual")
            db.session.add(listen)
            db.session.flush()
            rollups.listens_added(db.session, [(track.id, moment)])
            ids.append(listen.id)
        moment += length
    return ids, duplicates


def set_loved(track_id: int, loved: bool | None) -> dict:
    """Love or unlove a track (None toggles)."""
    return run_write(_set_loved, track_id, loved)


def _set_loved(track_id: int, loved: bool | None) -> dict:
    track = db.session.get(Track, track_id)
    if track is None:
        raise NotFound(f"Track {track_id} does not exist.")
    track.loved = (not track.loved) if loved is None else loved
    return {"track_id": track.id, "loved": track.loved}


def timeline(config: Config, day: date | None, tz_name: str | None) -> dict:
    """The plays of one local day, grouped by local hour, with the day's totals (kept per worker while the data
    version is unchanged: a repeated question costs no query)."""
    tz = zone(tz_name, config.timezone)
    day = day or datetime.now(tz).date()
    return remembered(("timeline", day, tz.key), lambda: _timeline(day, tz))


def _timeline(day: date, tz) -> dict:
    """timeline() of a resolved day and zone, computed."""
    lo, hi = day_bounds(day, tz)
    rows = db.session.execute(_journal_select().where(Listen.played_at >= lo, Listen.played_at < hi)
                              .order_by(Listen.played_at, Listen.track_id)).all()
    hours: dict[str, list] = {str(h): [] for h in range(24)}
    for row in rows:
        hours[str(datetime.fromtimestamp(row.played_at, tz).hour)].append(listen_item(row))
    counts = {h: len(items) for h, items in hours.items() if items}
    stats = {
        "total_tracks": len(rows),
        "unique_artists": len({r.artist for r in rows}),
        "unique_albums": len({r.album_id for r in rows if r.album_id is not None}),
        "peak_hour": int(max(counts, key=lambda h: (counts[h], -int(h)))) if counts else None,
    }
    return {"date": day, "tz": tz.key, "hours": hours, "stats": stats}
