"""One artist's page: their albums (owned and heard), plays, first and last play, top tracks, an image.

Counts come from the per-track rollup (track_play_totals, kept exact with the listens): an artist with tens of
thousands of plays is read in a few index lookups instead of a scan of their listens.
"""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import lazyload

from ..errors import NotFound
from ..extensions import db
from ..models import Album, AlbumArtist, Artist, Track
from ..models.rollup import TrackPlayTotal as Totals
from ..text import normalise


def get_artist(artist_id: int) -> Artist:
    """One artist, or 404."""
    artist = db.session.get(Artist, artist_id)
    if artist is None:
        raise NotFound(f"Artist {artist_id} does not exist.")
    return artist


def find_artist_id(name: str) -> int:
    """The id of the artist called `name` (case/accent-insensitive), or 404."""
    artist_id = db.session.scalar(select(Artist.id).where(Artist.name_key == normalise(name)))
    if artist_id is None:
        raise NotFound(f"No artist is called {name!r}.")
    return artist_id


def artist_detail(artist_id: int, top: int = 10) -> dict:
    """Plays of the artist's tracks (count, first, last), their albums with plays, and their top tracks."""
    artist = get_artist(artist_id)
    plays, first, last = db.session.execute(
        select(func.coalesce(func.sum(Totals.plays), 0), func.min(Totals.first_played_at),
               func.max(Totals.last_played_at))
        .join(Track, Track.id == Totals.track_id).where(Track.artist_id == artist_id)).one()
    albums = artist_albums(artist_id)
    return {"id": artist.id, "name": artist.name, "play_count": int(plays), "first_played": first, "last_played": last,
            "albums_owned": [a for a in albums if a["in_collection"]],
            "albums_heard": [a for a in albums if not a["in_collection"] and a["plays"]],
            "top_tracks": top_tracks(artist_id, top), "image_url": _image(albums)}


def artist_albums(artist_id: int) -> list[dict]:
    """Albums crediting the artist or holding their played tracks, most played first, with plays of the artist."""
    credited = select(AlbumArtist.album_id).where(AlbumArtist.artist_id == artist_id)
    heard = select(Track.album_id).where(Track.artist_id == artist_id, Track.album_id.is_not(None))
    mine = or_(Album.id.in_(credited), Album.id.in_(heard))
    rows = db.session.scalars(select(Album).where(mine).options(lazyload(Album.tracks))).all()
    # A subquery, not a list of ids: an artist on thousands of records stays one bounded statement.
    stats = {row.album_id: row for row in db.session.execute(
        select(Track.album_id, func.sum(Totals.plays).label("plays"), func.min(Totals.first_played_at).label("first"),
               func.max(Totals.last_played_at).label("last"))
        .join(Totals, Totals.track_id == Track.id)
        .where(Track.album_id.in_(select(Album.id).where(mine))).group_by(Track.album_id))}
    albums = []
    for album in rows:
        row = stats.get(album.id)
        albums.append({"id": album.id, "title": album.title, "year": album.year, "support": album.support,
                       "in_collection": album.in_collection, "image_url": album.image_url,
                       "artists": album.artists, "plays": int(row.plays) if row else 0,
                       "first_played": row.first if row else None, "last_played": row.last if row else None})
    albums.sort(key=lambda a: (-a["plays"], a["year"] or 9999, a["title"].casefold(), a["id"]))
    return albums


def top_tracks(artist_id: int, limit: int) -> list[dict]:
    """The artist's most played tracks (ties: title)."""
    rows = db.session.execute(
        select(Track.id, Track.title, Track.album_id, Album.title.label("album"), Totals.plays,
               Totals.last_played_at.label("last"))
        .join(Totals, Totals.track_id == Track.id).outerjoin(Album, Album.id == Track.album_id)
        .where(Track.artist_id == artist_id)
        .order_by(Totals.plays.desc(), Track.title, Track.id).limit(limit)).all()
    return [{"id": r.id, "title": r.title, "album_id": r.album_id, "album": r.album, "plays": r.plays,
             "last_played": r.last} for r in rows]


def _image(albums: list[dict]) -> str | None:
    # AIME keeps no artist photos: the cover of their most played record that has one stands in.
    return next((a["image_url"] for a in albums if a["image_url"]), None)
