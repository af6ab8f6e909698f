"""Finding or creating artists, albums and tracks by their normalised identity."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Album, AlbumArtist, Artist, Track
from ..text import normalise


def get_or_create_artist(name: str) -> Artist:
    """The artist called `name` (case/accent-insensitive), created when missing."""
    name = name.strip()
    key = normalise(name)
    query = select(Artist).where(Artist.name_key == key)
    artist = db.session.scalar(query)
    if artist is None:
        artist = _add_or_fetch(Artist(name=name, name_key=key), lambda: db.session.scalar(query))
    return artist


def _add_or_fetch(row, fetch):
    """Insert `row` in a savepoint; if a concurrent writer inserted the same identity first, use theirs.

    On PostgreSQL two requests can both miss the row and both insert; the loser's unique violation only
    rolls back the savepoint, and the winner's row is read instead (SQLite serialises writers anyway).
    """
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
        return row
    except IntegrityError:
        found = fetch()
        if found is None:
            raise
        return found


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
        album = _add_or_fetch(album, lambda: find_album(title, primary_artist))
    return album


def get_or_create_track(title: str, artist: Artist, album: Album | None, *,
                        duration_seconds: int | None = None) -> Track:
    """The track (artist, album-or-none, normalised title), created when missing."""
    key = normalise(title)
    album_id = album.id if album is not None else None
    query = select(Track).where(Track.artist_id == artist.id, Track.title_key == key,
                                func.coalesce(Track.album_id, 0) == (album_id or 0))
    track = db.session.scalar(query)
    if track is None:
        track = _add_or_fetch(Track(title=title.strip(), title_key=key, artist_id=artist.id, album_id=album_id,
                                    duration_seconds=duration_seconds, loved=False),
                              lambda: db.session.scalar(query))
    elif duration_seconds and not track.duration_seconds:
        track.duration_seconds = duration_seconds
    return track


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so user text matches literally (use with escape='\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(text: str) -> str:
    """A LIKE pattern matching normalised `text` anywhere."""
    return f"%{escape_like(normalise(text))}%"
