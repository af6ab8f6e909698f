"""Search across albums, artists and tracks by normalised name."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from ..extensions import db
from ..models import Album, Artist, Track
from ..text import normalise
from .catalog import contains
from .search_index import matches


def search(q: str, kind: str | None = None, limit: int = 20) -> dict:
    """Albums, artists and tracks whose names contain q (case/accent-insensitive)."""
    key, pattern = normalise(q), contains(q)
    result: dict = {"query": q, "albums": [], "artists": [], "tracks": []}
    if kind in (None, "album"):
        result["albums"] = list(db.session.scalars(
            select(Album).options(lazyload(Album.tracks))  # results show no tracks: don't load them
            .where(matches(Album.id, Album.title_key, key, pattern, "fts_albums", limit, probe=False))
            .order_by(Album.in_collection.desc(), Album.title_key, Album.id).limit(limit)))
    if kind in (None, "artist"):
        result["artists"] = list(db.session.scalars(
            select(Artist).where(matches(Artist.id, Artist.name_key, key, pattern, "fts_artists", limit))
            .order_by(Artist.name_key).limit(limit)))
    if kind in (None, "track"):
        rows = db.session.execute(
            select(Track.id, Track.title, Artist.name.label("artist"), Album.title.label("album"),
                   Album.id.label("album_id"))
            .join(Artist, Artist.id == Track.artist_id).outerjoin(Album, Album.id == Track.album_id)
            .where(matches(Track.id, Track.title_key, key, pattern, "fts_tracks", limit))
            .order_by(Track.title_key, Track.id).limit(limit)).all()
        result["tracks"] = [row._asdict() for row in rows]
    return result
