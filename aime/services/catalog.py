"""Finding or creating artists, albums and tracks by their normalised identity."""
from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..models import Album, AlbumArtist, Artist, Track
from ..text import normalise


def get_or_create_artist(name: str) -> Artist:
    """The artist called `name` (case/accent-insensitive), created when missing."""
    name = name.strip()
    key = normalise(name)
    artist = db.session.scalar(select(Artist).where(Artist.name_key == key))
    if artist is None:
        artist = Artist(name=name, name_key=key)
        db.session.add(artist)
        db.session.flush()
    return artist


def find_album(title: str, primary_artist: Artist) -> Album | None:
    """The album with this normalised title by this primary artist, if any."""
    return db.session.scalar(select(Album).where(
        Album.title_key == normalise(title), Album.primary_artist_id == primary_artist.id))


def get_or_create_album(title: str, primary_artist: Artist, *, source: str) -> Album:
    """The album (title, primary artist), created outside the collection when missing."""
    album = find_album(title, primary_artist)
    if album is None:
        album = Album(title=title.strip(), title_key=normalise(title), primary_artist_id=primary_artist.id,
                      source=source, in_collection=False, labels=[])
        album.album_artists = [AlbumArtist(artist=primary_artist, position=0)]
        db.session.add(album)
        db.session.flush()
    return album


def get_or_create_track(title: str, artist: Artist, album: Album | None, *,
                        duration_seconds: int | None = None) -> Track:
    """The track (artist, album-or-none, normalised title), created when missing."""
    key = normalise(title)
    album_id = album.id if album is not None else None
    track = db.session.scalar(select(Track).where(
        Track.artist_id == artist.id, Track.title_key == key,
        func.coalesce(Track.album_id, 0) == (album_id or 0)))
    if track is None:
        track = Track(title=title.strip(), title_key=key, artist_id=artist.id, album_id=album_id,
                      duration_seconds=duration_seconds, loved=False)
        db.session.add(track)
        db.session.flush()
    elif duration_seconds and not track.duration_seconds:
        track.duration_seconds = duration_seconds
    return track


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so user text matches literally (use with escape='\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(text: str) -> str:
    """A LIKE pattern matching normalised `text` anywhere."""
    return f"%{escape_like(normalise(text))}%"
