"""Listening statistics of a period: totals, peak hour, top artists/albums/tracks."""
from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, select

from ..config import Config
from ..extensions import db
from ..models import Album, Artist, Listen, Track
from ..timeutil import range_bounds, zone
from .history import plays_by_hour


def period_clauses(lo: int | None, hi: int | None) -> list:
    """WHERE clauses for a [lo, hi) epoch range (either end open)."""
    clauses = []
    if lo is not None:
        clauses.append(Listen.played_at >= lo)
    if hi is not None:
        clauses.append(Listen.played_at < hi)
    return clauses


def history_stats(config: Config, start_date: date | None = None, end_date: date | None = None,
                  tz: str | None = None, limit: int = 10) -> dict:
    """Totals and top lists of the plays between start_date and end_date (local days, inclusive)."""
    zone_info = zone(tz, config.timezone)
    lo, hi = range_bounds(start_date, end_date, zone_info)
    where = and_(*period_clauses(lo, hi))
    duration = func.coalesce(func.sum(Track.duration_seconds), 0)
    totals = db.session.execute(
        select(func.count(Listen.id), func.count(func.distinct(Track.artist_id)),
               func.count(func.distinct(Track.album_id)), func.count(func.distinct(Listen.track_id)), duration)
        .join(Track, Track.id == Listen.track_id).where(where)).one()
    buckets = db.session.execute(select((Listen.played_at / 900).label("bucket"), func.count())
                                 .where(where).group_by("bucket")).all()
    hours = plays_by_hour(buckets, zone_info)
    return {
        "start_date": start_date, "end_date": end_date, "tz": zone_info.key,
        "total_tracks": totals[0], "unique_artists": totals[1], "unique_albums": totals[2],
        "unique_tracks": totals[3], "total_duration_seconds": int(totals[4] or 0),
        "peak_hour": max(hours, key=lambda h: (hours[h], -h)) if hours else None,
        "top_artists": top_artists(where, limit),
        "top_albums": top_albums(where, limit),
        "top_tracks": top_tracks(where, limit),
    }


def _ranked(rows) -> list[dict]:
    return [{"id": r.id, "name": r.name, "artist": getattr(r, "artist", None), "plays": r.plays,
             "duration_seconds": int(r.duration or 0)} for r in rows]


def top_artists(where, limit: int) -> list[dict]:
    """Artists by play count in the period."""
    per_track = (select(Listen.track_id, func.count().label("plays")).where(where)
                 .group_by(Listen.track_id).subquery())
    plays = func.sum(per_track.c.plays).label("plays")
    query = (select(Artist.id, Artist.name, plays,
                    func.sum(per_track.c.plays * func.coalesce(Track.duration_seconds, 0)).label("duration"))
             .select_from(per_track).join(Track, Track.id == per_track.c.track_id)
             .join(Artist, Artist.id == Track.artist_id)
             .group_by(Artist.id, Artist.name).order_by(plays.desc(), Artist.name).limit(limit))
    return _ranked(db.session.execute(query).all())


def top_albums(where, limit: int) -> list[dict]:
    """Albums by play count in the period."""
    per_track = (select(Listen.track_id, func.count().label("plays")).where(where)
                 .group_by(Listen.track_id).subquery())
    plays = func.sum(per_track.c.plays).label("plays")
    query = (select(Album.id, Album.title.label("name"), Artist.name.label("artist"), plays,
                    func.sum(per_track.c.plays * func.coalesce(Track.duration_seconds, 0)).label("duration"))
             .select_from(per_track).join(Track, Track.id == per_track.c.track_id)
             .join(Album, Album.id == Track.album_id).join(Artist, Artist.id == Album.primary_artist_id)
             .group_by(Album.id, Album.title, Artist.name).order_by(plays.desc(), Album.title).limit(limit))
    return _ranked(db.session.execute(query).all())


def top_tracks(where, limit: int) -> list[dict]:
    """Tracks by play count in the period."""
    plays = func.count(Listen.id).label("plays")
    per_track = (select(Listen.track_id, plays).where(where).group_by(Listen.track_id)
                 .order_by(plays.desc(), Listen.track_id).limit(limit).subquery())
    query = (select(Track.id, Track.title.label("name"), Artist.name.label("artist"), per_track.c.plays,
                    (per_track.c.plays * func.coalesce(Track.duration_seconds, 0)).label("duration"))
             .select_from(per_track).join(Track, Track.id == per_track.c.track_id)
             .join(Artist, Artist.id == Track.artist_id)
             .order_by(per_track.c.plays.desc(), Track.title))
    return _ranked(db.session.execute(query).all())
