"""Search across albums, artists and tracks by normalised name.

The answer is built straight from the rows, in the shape (and key order) of SearchResultSchema: plain SQL with
only the columns the answer shows, one statement per kind (two for artists and tracks when the probe of the
ordered index finds less than a page), no ORM objects and no per-object schema dump. On a 50,000-track catalogue
the lookups cost 0.03-4 ms; the ORM and marshmallow around them cost 5-10 ms more per search (docs/benchmarks.md).
"""
from __future__ import annotations

import functools
import json

from sqlalchemy import TextClause, text

from ..extensions import db
from ..text import normalise
from ..timeutil import iso
from .catalog import contains
from .search_index import condition, params, probe_condition, use_index

_ALBUM_COLUMNS = ("id, title, year, support, genre, labels, catalog_number, discogs_id, spotify_url, discogs_url, "
                  "apple_music_url, image_url, ai_description, source, in_collection, created_at, updated_at")
_ALBUM_ORDER = "in_collection DESC, title_key, id"


def search(q: str, kind: str | None = None, limit: int = 20) -> dict:
    """Albums, artists and tracks whose names contain q (case/accent-insensitive), as the API returns them."""
    key = normalise(q)
    bind = params(key, contains(q), limit)
    return {"query": q,
            "albums": _albums(key, bind) if kind in (None, "album") else [],
            "artists": _artists(key, bind) if kind in (None, "artist") else [],
            "tracks": _tracks(key, bind) if kind in (None, "track") else []}


@functools.lru_cache(maxsize=64)
def _statement(sql: str) -> TextClause:
    return text(sql)  # parsed once per distinct SQL (a few per kind): the binds are found by a regex


def _rows(sql: str, bind: dict) -> list:
    return db.session.connection().execute(_statement(sql), bind).all()


def _probed(statement, table: str, column: str, fts: str, alias: str, key: str, bind: dict) -> list:
    """Rows of statement(where) for `key`: a page found whole by the probe, else the index (or the scan)."""
    if use_index(key):
        rows = _rows(statement(probe_condition(table, column, alias)), bind)
        if len(rows) == bind["limit"]:
            return rows
    return _rows(statement(condition(table, column, fts, key, alias)), bind)


def _artists(key: str, bind: dict) -> list[dict]:
    rows = _probed(lambda where: f"SELECT a.id, a.name FROM artists a WHERE {where} ORDER BY a.name_key, a.id "
                                 f"LIMIT :limit", "artists", "name_key", "fts_artists", "a", key, bind)
    return [{"id": artist_id, "name": name} for artist_id, name in rows]


def _track_page(where: str) -> str:
    # The page first, then its artist and album names: a common substring joins 20 rows, not all its matches.
    page = (f"SELECT t.id, t.title, t.title_key, t.artist_id, t.album_id FROM tracks t WHERE {where} "
            f"ORDER BY t.title_key, t.id LIMIT :limit")
    return (f"SELECT p.id, p.title, ar.name, al.title, al.id FROM ({page}) p JOIN artists ar ON ar.id = p.artist_id "
            f"LEFT JOIN albums al ON al.id = p.album_id ORDER BY p.title_key, p.id")


def _tracks(key: str, bind: dict) -> list[dict]:
    rows = _probed(_track_page, "tracks", "title_key", "fts_tracks", "t", key, bind)
    return [{"id": track_id, "title": title, "artist": artist, "album": album, "album_id": album_id}
            for track_id, title, artist, album, album_id in rows]


def _albums(key: str, bind: dict) -> list[dict]:
    # Owned albums first, so no probe (the probe follows the key order); one statement: the page, then its artists
    # in credited order, joined.
    where = condition("albums", "title_key", "fts_albums", key, "al")
    page = f"SELECT {_ALBUM_COLUMNS}, title_key FROM albums al WHERE {where} ORDER BY {_ALBUM_ORDER} LIMIT :limit"
    rows = _rows(f"SELECT p.*, ar.id, ar.name FROM ({page}) p LEFT JOIN album_artists aa ON aa.album_id = p.id "
                 f"LEFT JOIN artists ar ON ar.id = aa.artist_id ORDER BY p.in_collection DESC, p.title_key, p.id, "
                 f"aa.position", bind)
    albums: list[dict] = []
    for row in rows:
        if not albums or albums[-1]["id"] != row[0]:
            albums.append(_album(row))
        if row[-2] is not None:
            albums[-1]["artists"].append({"id": row[-2], "name": row[-1]})
    return albums


def _album(row) -> dict:
    """An album row as AlbumSchema dumps it (same keys, same order, same types), artists to be appended."""
    (album_id, title, year, support, genre, labels, catalog_number, discogs_id, spotify_url, discogs_url,
     apple_music_url, image_url, ai_description, source, in_collection, created_at, updated_at) = row[:17]
    if isinstance(labels, str):  # SQLite hands JSON back as text; psycopg decodes it
        labels = json.loads(labels)
    return {"id": album_id, "title": title, "artists": [], "year": year, "support": support, "genre": genre,
            "labels": [str(label) for label in labels], "catalog_number": catalog_number, "discogs_id": discogs_id,
            "spotify_url": spotify_url, "discogs_url": discogs_url, "apple_music_url": apple_music_url,
            "image_url": image_url, "ai_description": ai_description, "source": source,
            "in_collection": bool(in_collection), "created_at": iso(created_at), "updated_at": iso(updated_at)}
