"""The first read after a write of the hottest pages, in plain SQL: an album, the album list, the journal.

A cached read is answered without any of this (aime/api/conditional.py); a miss ran the services' SQLAlchemy
selects, and building, compiling (cache key) and executing those through the ORM session was most of its CPU
(~0.35 ms per statement against ~0.09 ms for a parsed-once `text()` on the session's connection; docs/benchmarks.md
"Sixth round"). These functions return exactly what collection.album_detail_row, collection.album_rows_page and
history.journal return (same keys in the same order, same Python types), for the unfiltered album list and
journal; any filter goes to those functions. tests/api/test_wire.py holds the HTTP bodies equal to the schema dumps
of the ORM functions, on both backends.
"""
from __future__ import annotations

import functools
import json

from sqlalchemy import Integer, TextClause, bindparam, text

from ..config import Config
from ..errors import NotFound
from ..extensions import db
from . import collection, history, listen_totals
from .collection import ALBUM_FIELDS
from .paging import Page, offset

_ALBUM_KEYS = ("id", "title", "source", "in_collection", "created_at", "updated_at", *ALBUM_FIELDS)
_ALBUM_COLUMNS = ", ".join(f"al.{key}" for key in _ALBUM_KEYS)
_WIDTH = len(_ALBUM_KEYS)
_IN_COLLECTION, _LABELS = _ALBUM_KEYS.index("in_collection"), _ALBUM_KEYS.index("labels")

# collection._SORTS / _sorted in SQL: (expression, direction) pairs; `pa` is the primary artist (artist sorts).
_SORTS = {
    "title": (("al.title_key", "ASC"), ("al.id", "ASC")),
    "-title": (("al.title_key", "DESC"), ("al.id", "DESC")),
    "year": (("al.year", "ASC NULLS LAST"), ("al.title_key", "ASC"), ("al.id", "ASC")),
    "-year": (("al.year", "DESC NULLS LAST"), ("al.title_key", "ASC"), ("al.id", "ASC")),
    "created": (("al.created_at", "ASC"), ("al.id", "ASC")),
    "-created": (("al.created_at", "DESC"), ("al.id", "DESC")),
    "artist": (("pa.name_key", "ASC"), ("al.title_key", "ASC"), ("al.id", "ASC")),
    "-artist": (("pa.name_key", "DESC"), ("al.title_key", "ASC"), ("al.id", "ASC")),
}

_DETAIL = (f"SELECT {_ALBUM_COLUMNS}, p.plays, p.last_played, ar.id, ar.name FROM albums al "
           "CROSS JOIN (SELECT count(*) AS plays, max(listens.played_at) AS last_played FROM listens "
           "JOIN tracks ON tracks.id = listens.track_id WHERE tracks.album_id = :album_id) p "
           "LEFT JOIN album_artists aa ON aa.album_id = al.id LEFT JOIN artists ar ON ar.id = aa.artist_id "
           "WHERE al.id = :album_id ORDER BY aa.position")
# The order of Album.tracks (the relationship's order_by), NULL track numbers where each database puts them.
_TRACKS = ("SELECT id, title, track_number, duration_seconds, loved FROM tracks WHERE album_id = :album_id "
           "ORDER BY track_number, id")
_ALBUM_COUNT = "SELECT count(*) FROM albums WHERE in_collection = :yes"
# Journal: skip on the (played_at, track_id) index alone, then join only the page's rows (as history.journal).
_JOURNAL = ("SELECT listens.id, listens.played_at, listens.source, listens.track_id, tracks.title, tracks.loved, "
            "artists.name, albums.id, albums.title, albums.year, albums.image_url FROM listens "
            "JOIN tracks ON tracks.id = listens.track_id JOIN artists ON artists.id = tracks.artist_id "
            "LEFT JOIN albums ON albums.id = tracks.album_id WHERE listens.id IN (SELECT listens.id FROM listens"
            "{where} ORDER BY listens.played_at DESC, listens.track_id DESC LIMIT :limit OFFSET :skip) "
            "ORDER BY listens.played_at DESC, listens.track_id DESC")


@functools.lru_cache(maxsize=64)
def _statement(sql: str) -> TextClause:
    statement = text(sql)  # parsed once per distinct SQL
    if ":album_id" in sql:
        # An id typed as the column's Integer, as the ORM's `Album.id == album_id` binds it: PostgreSQL then refuses
        # an id past the integer range (422, tests/resilience/test_hostile_input.py) instead of comparing numerics.
        statement = statement.bindparams(bindparam("album_id", type_=Integer))
    return statement


def _rows(sql: str, bind: dict) -> list:
    return db.session.connection().execute(_statement(sql), bind).all()


def _album(row) -> dict:
    """album_row's dict from the first _WIDTH columns of a row (SQLite hands booleans as 0/1 and JSON as text)."""
    album = dict(zip(_ALBUM_KEYS, row[:_WIDTH], strict=True))
    album["in_collection"] = bool(row[_IN_COLLECTION])
    labels = row[_LABELS]
    if isinstance(labels, str):
        album["labels"] = json.loads(labels)
    return album


def _with_artists(rows: list, artist_at: int) -> list[dict]:
    """Albums of rows ordered by album then credited position, each with `artists` from columns artist_at, +1."""
    albums: list[dict] = []
    for row in rows:
        if not albums or albums[-1]["id"] != row[0]:
            albums.append({**_album(row), "artists": [], "_row": row})
        if row[artist_at] is not None:
            albums[-1]["artists"].append({"id": row[artist_at], "name": row[artist_at + 1]})
    return albums


def album_detail(album_id: int) -> dict:
    """collection.album_detail_row in two statements (the album with its artists and plays, then its tracks)."""
    albums = _with_artists(_rows(_DETAIL, {"album_id": album_id}), _WIDTH + 2)
    if not albums:
        raise NotFound(f"Album {album_id} does not exist.")
    album = albums[0]
    row = album.pop("_row")
    tracks = [{"id": track_id, "title": title, "track_number": number, "duration_seconds": seconds,
               "loved": bool(loved)}
              for track_id, title, number, seconds, loved in _rows(_TRACKS, {"album_id": album_id})]
    return {**album, "tracks": tracks, "play_count": row[_WIDTH], "last_played": row[_WIDTH + 1]}


def album_page(page: int = 1, page_size: int = 30, sort: str = "title", **filters) -> Page:
    """collection.album_rows_page: the unfiltered list in two statements (count, the page with its artists)."""
    if any(value is not None for value in filters.values()):
        return collection.album_rows_page(page, page_size, sort, **filters)
    total = _rows(_ALBUM_COUNT, {"yes": True})[0][0]
    albums = _with_artists(_rows(_page_sql(sort), {"yes": True, "limit": page_size,
                                                   "skip": offset(page, page_size)}), _WIDTH + len(_SORTS[sort]))
    for album in albums:
        del album["_row"]
    return Page(items=albums, total=total, page=page, page_size=page_size)


@functools.lru_cache(maxsize=len(_SORTS))
def _page_sql(sort: str) -> str:
    # The page (sort keys carried out as k0, k1, ...), then its artists in credited order, joined.
    keys = _SORTS[sort]
    carried = ", ".join(f"{expression} AS k{i}" for i, (expression, _direction) in enumerate(keys))
    inner = ", ".join(f"{expression} {direction}" for expression, direction in keys)
    outer = ", ".join(f"p.k{i} {direction}" for i, (_expression, direction) in enumerate(keys))
    join = " JOIN artists pa ON pa.id = al.primary_artist_id" if sort.lstrip("-") == "artist" else ""
    page = (f"SELECT {_ALBUM_COLUMNS}, {carried} FROM albums al{join} WHERE al.in_collection = :yes "
            f"ORDER BY {inner} LIMIT :limit OFFSET :skip")
    return (f"SELECT p.*, ar.id, ar.name FROM ({page}) p LEFT JOIN album_artists aa ON aa.album_id = p.id "
            f"LEFT JOIN artists ar ON ar.id = aa.artist_id ORDER BY {outer}, aa.position")


def journal(config: Config, page: int = 1, page_size: int = 50, **filters) -> Page:
    """history.journal: the unfiltered journal with its total and page in plain SQL (filters: history.journal)."""
    if any(value is not None for value in filters.values()):
        return history.journal(config, page, page_size, **filters)
    total = listen_totals.unfiltered_total()
    below, skip = history.month_seek(offset(page, page_size))
    where = "" if below is None else " WHERE listens.played_at < :below"
    rows = _rows(_JOURNAL.format(where=where), {"below": below, "limit": page_size, "skip": skip})
    items = [{"id": listen_id, "played_at": played_at, "artist": artist, "title": title, "album": album,
              "album_id": album_id, "track_id": track_id, "year": year, "loved": bool(loved), "source": source,
              "album_image": image}
             for listen_id, played_at, source, track_id, title, loved, artist, album_id, album, year, image in rows]
    return Page(items=items, total=total, page=page, page_size=page_size)
