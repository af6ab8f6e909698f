"""Artist/album/track ids for a whole batch at once: in-memory caches plus set-based SQL for the misses.

The identities are the ones of services/catalog.py (normalised artist name; album = normalised title +
primary artist; track = artist + album-or-none + normalised title), done per batch instead of per row.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ...database import dbapi_cursor
from ...models import Album, AlbumArtist, Artist, Track
from ...models.base import now_epoch
from ...text import normalise
from ..sql_lists import one_of
from .records import Play

CHUNK = 5000  # IN-list size: well under SQLite's 32766 bound variables
MEMO_LIMIT = 200_000  # names/keys remembered; beyond, the memo restarts (bounded memory)
MAX_PARAMETERS = 30_000  # bound values per statement: under SQLite's 32,766 and PostgreSQL's 65,535
_TRACK_COLUMNS = ("title", "title_key", "artist_id", "album_id", "loved", "created_at")
_TRACK_TYPES = ("text", "text", "integer", "integer", "boolean", "bigint")  # PostgreSQL types of _TRACK_COLUMNS
_ALBUM_COLUMNS = ("title", "title_key", "primary_artist_id", "labels", "source", "in_collection", "created_at",
                  "updated_at")
_ALBUM_TYPES = ("text", "text", "integer", "json", "text", "boolean", "bigint", "bigint")  # PostgreSQL types
TRACK_LIMIT = 300_000  # cached tracks; beyond, the whole cache restarts and is refilled from the database


def chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    """Slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_returning(session, table: str, columns: tuple[str, ...], rows: list[tuple], returning: str,
                     pg_types: tuple[str, ...] | None = None) -> list:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING for many rows, through the DB-API cursor.

    One multi-row VALUES per statement: a busy import creates tens of thousands of tracks, and SQLAlchemy's
    processing of each parameter set cost several times the insert itself. On PostgreSQL, with the columns'
    `pg_types`, one `unnest` of one array per column instead: the statement text is the same for any number of
    rows, so psycopg does not parse a new text of thousands of placeholders for each batch (6 of 42 profiled
    seconds of a 100,000-play import).
    """
    sqlite_ = session.get_bind().dialect.name == "sqlite"
    if not sqlite_ and pg_types is not None and rows:
        arrays = ", ".join(f"%s::{kind}[]" for kind in pg_types)
        with dbapi_cursor(session) as cursor:
            cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
                           f"ON CONFLICT DO NOTHING RETURNING {returning}",
                           [list(column) for column in zip(*rows, strict=True)])
            return cursor.fetchall()
    mark = "?" if sqlite_ else "%s"
    one = f"({', '.join([mark] * len(columns))})"
    found = []
    with dbapi_cursor(session) as cursor:
        for part in chunks(rows, MAX_PARAMETERS // len(columns)):
            cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * len(part))} "
                           f"ON CONFLICT DO NOTHING RETURNING {returning}", [value for row in part for value in row])
            found += cursor.fetchall()
    return found


def insert_ignore(session, table):
    """INSERT ... ON CONFLICT DO NOTHING for the session's dialect."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).on_conflict_do_nothing()


class CatalogCache:
    """Ids of artists, albums and tracks seen during one import (valid while its transactions commit)."""

    def __init__(self, source: str):
        self.source = source
        self.clear()

    def clear(self) -> None:
        """Forget everything (after a rolled-back batch the cached ids may not exist)."""
        self.memo: dict[str, str] = {}
        self.seen: dict[tuple, tuple[int, tuple[int, str]]] = {}
        self.artists: dict[str, int] = {}
        self.albums: dict[tuple[str, int], int] = {}
        self.tracks: dict[tuple[int, int, str], int] = {}
        self.siblings: dict[tuple[int, str], set[int]] = {}  # same artist+title on any album: one song
        self.song_of: dict[int, tuple[int, str]] = {}
        self.artist_of: dict[int, int] = {}  # track id -> artist id (the rollups count plays per artist)
        self.album_of: dict[int, int | None] = {}  # track id -> album id (None: a loose, album-less track)
        # Artists whose albums / tracks are all in the cache: a miss there means "does not exist yet".
        self.album_artists_loaded: set[int] = set()
        self.track_artists_loaded: set[int] = set()

    def key(self, name: str) -> str:
        """normalise(name), memoised: names repeat a lot in listening histories."""
        found = self.memo.get(name)
        if found is None:
            if len(self.memo) > MEMO_LIMIT:
                self.memo.clear()
            found = self.memo[name] = normalise(name)
        return found

    def warm(self, plays: list[Play]) -> None:
        """Normalise the names of plays not seen yet, before a write transaction (pure memory: the
        transaction, which holds SQLite's write lock, then finds them in the memo)."""
        seen, memo, key = self.seen, self.memo, self.key
        for p in plays:
            if (p.artist, p.album, p.title) not in seen:
                for name in (p.artist, p.album, p.title):
                    if name and name not in memo:
                        key(name)

    def load_all(self, session) -> bool:
        """Load every artist, album and track id (a re-import then finds its names without SQL); False, loading
        nothing, when the catalogue has more than TRACK_LIMIT tracks."""
        with dbapi_cursor(session) as cursor:
            cursor.execute("SELECT count(*) FROM tracks")
            if cursor.fetchone()[0] > TRACK_LIMIT:
                return False
            cursor.execute("SELECT id, name_key FROM artists")
            self.artists.update((key, artist_id) for artist_id, key in cursor.fetchall())
            cursor.execute("SELECT id, title_key, primary_artist_id FROM albums")
            self.albums.update(((key, artist_id), album_id) for album_id, key, artist_id in cursor.fetchall())
            cursor.execute("SELECT id, artist_id, album_id, title_key FROM tracks")
            for row in cursor.fetchall():
                self._add_track(*row)
        return True

    def cached(self, play: Play) -> tuple[int, tuple[int, str]] | None:
        """(track id, song key) of a play from memory alone, or None when its artist, album or track is not cached.

        The same keys as `_resolve`, without SQL: a hit is what `resolve` would return.
        """
        names = (play.artist, play.album, play.title)
        hit = self.seen.get(names)
        if hit is None:
            artist = self.artists.get(self.key(play.artist))
            album = self.albums.get((self.key(play.album), artist)) if play.album else 0
            track = self.tracks.get((artist, album, self.key(play.title))) if album is not None else None
            if track is None:
                return None
            hit = (track, self.song_of[track])
            if len(self.seen) < MEMO_LIMIT:
                self.seen[names] = hit
        return hit

    def resolve(self, session, plays: list[Play]) -> list[tuple[int, tuple[int, str]]]:
        """(track id, song key) for each play, creating what is missing."""
        if len(self.tracks) > TRACK_LIMIT or len(self.seen) > MEMO_LIMIT:
            self.clear()
        # Fast path: the same raw (artist, album, title) strings recur all through a history.
        seen = self.seen
        found = [seen.get((p.artist, p.album, p.title)) for p in plays]
        if None not in found:
            return found
        misses = [p for p, hit in zip(plays, found, strict=True) if hit is None]
        for p, hit in zip(misses, self._resolve(session, misses), strict=True):
            seen[(p.artist, p.album, p.title)] = hit
        return [hit or seen[(p.artist, p.album, p.title)] for p, hit in zip(plays, found, strict=True)]

    def _resolve(self, session, plays: list[Play]) -> list[tuple[int, tuple[int, str]]]:
        memo, key = self.memo, self.key
        artist_keys = [memo.get(p.artist) or key(p.artist) for p in plays]
        self._artists(session, {k: p.artist for k, p in zip(artist_keys, plays, strict=True) if k not in self.artists})
        artists = self.artists
        artist_ids = [artists[k] for k in artist_keys]
        album_keys = [((memo.get(p.album) or key(p.album)), a) if p.album else None
                      for p, a in zip(plays, artist_ids, strict=True)]
        self._albums(session, {k: p.album for k, p in zip(album_keys, plays, strict=True)
                               if k is not None and k not in self.albums})
        albums = self.albums
        track_keys = [(a, albums[k] if k is not None else 0, memo.get(p.title) or key(p.title))
                      for p, a, k in zip(plays, artist_ids, album_keys, strict=True)]
        self._tracks(session, {k: p.title for k, p in zip(track_keys, plays, strict=True) if k not in self.tracks})
        tracks, song_of = self.tracks, self.song_of
        return [(tracks[k], song_of[tracks[k]]) for k in track_keys]

    def _artists(self, session, names: dict[str, str]) -> None:
        if not names:
            return
        self._load_artists(session, list(names))
        new = [{"name": names[k].strip()[:500], "name_key": k} for k in names if k not in self.artists]
        if new and session.get_bind().dialect.name == "postgresql":  # one statement text for any number of rows
            rows = [(row["name"], row["name_key"], now_epoch()) for row in new]
            for artist_id, name_key in insert_returning(session, "artists", ("name", "name_key", "created_at"), rows,
                                                        "id, name_key", ("text", "text", "bigint")):
                self.artists[name_key] = artist_id
        elif new:
            statement = insert_ignore(session, Artist.__table__).returning(Artist.id, Artist.name_key)
            for row in session.execute(statement, new):
                self.artists[row.name_key] = row.id
        lost = [row["name_key"] for row in new if row["name_key"] not in self.artists]  # created meanwhile by another
        if lost:  # writer: ON CONFLICT DO NOTHING returns no row for it
            self._load_artists(session, lost)

    def _load_artists(self, session, keys: list[str]) -> None:
        for part in chunks(keys):
            query = select(Artist.id, Artist.name_key).where(one_of(Artist.name_key, part))
            for row in session.execute(query):
                self.artists[row.name_key] = row.id

    def _albums(self, session, titles: dict[tuple[str, int], str]) -> None:
        if not titles:
            return
        self._load_albums(session, list(titles))
        new = [k for k in titles if k not in self.albums]
        if not new:
            return
        created = []
        if session.get_bind().dialect.name == "postgresql":  # one statement text for any number of rows
            now = now_epoch()
            rows = [(titles[k].strip()[:500], k[0], k[1], "[]", self.source, False, now, now) for k in new]
            for album_id, title_key, artist_id in insert_returning(
                    session, "albums", _ALBUM_COLUMNS, rows, "id, title_key, primary_artist_id", _ALBUM_TYPES):
                self.albums[(title_key, artist_id)] = album_id
                created.append((album_id, artist_id, 0))
            if created:
                insert_returning(session, "album_artists", ("album_id", "artist_id", "position"), created,
                                 "album_id", ("integer", "integer", "integer"))
        else:
            statement = insert_ignore(session, Album.__table__).returning(
                Album.id, Album.title_key, Album.primary_artist_id)
            for row in session.execute(statement, [
                    {"title": titles[k].strip()[:500], "title_key": k[0], "primary_artist_id": k[1],
                     "source": self.source, "in_collection": False, "labels": []} for k in new]):
                self.albums[(row.title_key, row.primary_artist_id)] = row.id
                created.append({"album_id": row.id, "artist_id": row.primary_artist_id, "position": 0})
            if created:
                session.execute(insert_ignore(session, AlbumArtist.__table__), created)
        lost = [k for k in new if k not in self.albums]  # created meanwhile by another writer
        if lost:
            self.album_artists_loaded.difference_update(k[1] for k in lost)
            self._load_albums(session, lost)

    def _load_albums(self, session, keys: list[tuple[str, int]]) -> None:
        # By artist only (index on primary_artist_id): IN on both columns makes SQLite scan.
        artists = sorted({k[1] for k in keys} - self.album_artists_loaded)
        for part in chunks(artists):
            query = select(Album.id, Album.title_key, Album.primary_artist_id).where(
                one_of(Album.primary_artist_id, part))
            for row in session.execute(query):
                self.albums[(row.title_key, row.primary_artist_id)] = row.id
        self.album_artists_loaded.update(artists)

    def _tracks(self, session, titles: dict[tuple[int, int, str], str]) -> None:
        if not titles:
            return
        self._load_tracks(session, list(titles))
        new = [k for k in titles if k not in self.tracks]
        if not new:
            return
        now = now_epoch()
        rows = [(titles[k].strip()[:500], k[2], k[0], k[1] or None, False, now) for k in new]
        for row in insert_returning(session, "tracks", _TRACK_COLUMNS, rows, "id, artist_id, album_id, title_key",
                                    _TRACK_TYPES):
            self._add_track(*row)
        lost = [k for k in new if k not in self.tracks]
        if lost:
            self.track_artists_loaded.difference_update(k[0] for k in lost)
            self._load_tracks(session, lost)

    def _load_tracks(self, session, keys: list[tuple[int, int, str]]) -> None:
        # Every track of these artists, whatever the album: the dedup needs all siblings of a song.
        artists = sorted({k[0] for k in keys} - self.track_artists_loaded)
        for part in chunks(artists):
            query = select(Track.id, Track.artist_id, Track.album_id, Track.title_key).where(
                one_of(Track.artist_id, part))
            for row in session.execute(query):
                self._add_track(row.id, row.artist_id, row.album_id, row.title_key)
        self.track_artists_loaded.update(artists)

    def _add_track(self, track_id: int, artist_id: int, album_id: int | None, title_key: str) -> None:
        song = (artist_id, title_key)
        self.tracks[(artist_id, album_id or 0, title_key)] = track_id
        self.siblings.setdefault(song, set()).add(track_id)
        self.song_of[track_id] = song
        self.artist_of[track_id] = artist_id
        self.album_of[track_id] = album_id
