"""The data version: one cheap value that changes whenever anything a read shows may have changed.

Migration 0015 keeps a counter in `data_version` (one row) that every writer bumps through triggers, whatever
it writes with (ORM, raw DB-API cursors, SQL typed by hand):
* SQLite: a row trigger on INSERT/UPDATE/DELETE of artists, albums, album_artists and tracks, and on
  UPDATE/DELETE of listens. An inserted listen is seen through `max(listens.id)` instead: SQLite serialises
  writers, so ids are handed out in commit order and a new listen always raises the maximum (a trigger per
  imported play would cost the importer about half its speed).
* PostgreSQL: ids from a sequence are not in commit order, so every write is counted: a statement trigger
  on the same tables (INSERT/UPDATE/DELETE/TRUNCATE, listens included) marks the transaction once, and a
  deferred trigger bumps the counter at commit. Taking the counter's row lock last, at commit, means it never
  waits while holding it, so it cannot deadlock with the writers' other locks.
The pair (counter, newest listen id) therefore differs between any two committed states of those tables.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import uuid
import weakref
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from flask import has_request_context, request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from .. import deadlines
from ..config import current_config
from ..database import file_identity, sqlite_file_path, unpinged_connection
from ..extensions import db

TABLES = ("data_version", "data_version_marks")  # not models: outside the ORM's metadata on purpose
WATCHED = ("artists", "albums", "album_artists", "tracks", "listens")
ENVIRON_KEY = "aime.data_version"  # where a request keeps the version it read
READ = "SELECT version, epoch, (SELECT max(id) FROM listens) FROM data_version WHERE id = 1"


def current() -> str | None:
    """The data version as a short string, or None when the database has no counter row.

    Read outside the request's session, in autocommit: one statement, its own snapshot, taken before any data
    the request reads (so an answer is never older than the version it is kept under).

    SQLite: on a connection this thread keeps for it (_SqliteReader), not a pooled one: the pool's checkout and
    check-in cost three times the SELECT. PostgreSQL: on a pooled connection, the SELECT alone: no BEGIN, no
    ROLLBACK (psycopg sends none for a connection with no transaction open), which cost as much as the query, and
    no pre-ping: the SELECT is the ping. A pooled connection found dead (PostgreSQL restarted) is dropped and the
    read asked once more on a new one, as the ping would have done.
    """
    engine = db.engine
    path = _sqlite_path(engine)
    reader = _SqliteReader.of_thread(path) if path is not None else None
    if reader is not None:
        return _text(reader.read())
    try:
        with unpinged_connection(engine) as connection:
            return _text(_fetch(connection))
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    with unpinged_connection(engine) as connection:
        return _text(_fetch(connection))


def of_request() -> str | None:
    """The version this request's conditional GET read (aime/api/conditional.py), else current()."""
    if has_request_context() and ENVIRON_KEY in request.environ:
        return request.environ[ENVIRON_KEY]
    return current()


def in_session(session) -> str | None:
    """The data version read as the first statement of `session`'s transaction (None without a counter).

    For a read that goes on to query anyway: one checkout (one ping) instead of two, and on SQLite the version
    and the data come from the same snapshot."""
    return _text(session.connection().exec_driver_sql(READ).fetchone())


def _text(row) -> str | None:
    return None if row is None else f"{row[1]}.{row[0]}.{row[2] or 0}"


def _fetch(connection) -> tuple | None:
    """The version row, read in autocommit on a pooled connection; a disconnect invalidates the connection."""
    dialect = db.engine.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    dbapi_connection = connection.dbapi_connection
    autocommit = getattr(dbapi_connection, "autocommit", None)
    if autocommit is False:  # psycopg: switching is client-side while no transaction is open
        dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(READ)
        return cursor.fetchone()
    except dbapi_error as error:  # classified as everywhere else (busy, unavailable, deadline)
        disconnected = dialect.is_disconnect(error, dbapi_connection, cursor)
        if disconnected:
            connection.invalidate(error)  # closed, and replaced by a new one at its next checkout
        raise DBAPIError.instance(READ, None, error, dbapi_error,
                                  connection_invalidated=disconnected) from error
    finally:
        cursor.close()
        if autocommit is False and not dbapi_connection.closed:
            dbapi_connection.autocommit = False


_paths: weakref.WeakKeyDictionary[Engine, str | None] = weakref.WeakKeyDictionary()


def _sqlite_path(engine: Engine) -> str | None:
    """The SQLite file of `engine` (None: PostgreSQL, or SQLite in memory / by URI: read through the pool)."""
    try:
        return _paths[engine]
    except KeyError:
        return _paths.setdefault(engine, sqlite_file_path(engine.url))


@dataclass
class _SqliteReader:
    """A thread's own autocommit connection to the database file, for the version read alone.

    It is checked against the file at every read (one os.stat): a file replaced under it (a backup restored) is
    opened afresh, as the pool's checkout hook does for its connections, so a version is never read from the old,
    unlinked file. One per thread (the newest path only) and per process (a forked worker opens its own).
    """

    pid: int
    path: str
    identity: tuple[int, int]
    connection: sqlite3.Connection

    _held = threading.local()

    @classmethod
    def of_thread(cls, path: str) -> _SqliteReader | None:
        """This thread's reader of `path`, opened (again) when there is none or the file was replaced; None when
        the file is missing and this thread has no reader yet (the pool's connections then answer, as before)."""
        identity = file_identity(path)
        reader = getattr(cls._held, "reader", None)
        if reader is not None and reader.path == path and reader.pid == os.getpid() and (
                identity is None or identity == reader.identity):
            return reader
        if reader is not None and reader.pid == os.getpid():
            reader.connection.close()
        cls._held.reader = None
        if identity is None:
            return None
        cls._held.reader = cls._open(path, identity)
        return cls._held.reader

    def read(self) -> tuple | None:
        """The version row; on any error this connection is closed and the next read opens a new one."""
        try:
            return self.connection.execute(READ).fetchone()
        except sqlite3.Error as error:
            self._held.reader = None
            self.connection.close()
            raise DBAPIError.instance(READ, None, error, sqlite3.Error) from error

    @classmethod
    def _open(cls, path: str, identity: tuple[int, int]) -> _SqliteReader:
        # The file's identity is taken before it is opened: replaced in between, the next read opens it again.
        busy_ms = current_config().sqlite_busy_timeout_ms
        try:
            # mode=rw: a file deleted since the stat is an error here, never created empty.
            connection = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=rw", uri=True,
                                         timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise DBAPIError.instance(READ, None, error, sqlite3.Error) from error
        connection.set_progress_handler(deadlines.expired, PROGRESS_STEPS)  # as the pool's connections
        return cls(os.getpid(), path, identity, connection)


PROGRESS_STEPS = 20_000


def renew_epoch(sqlite_file: Path) -> None:
    """Give a restored SQLite file a new epoch, so no version (or ETag) from before the restore matches it."""
    with closing(sqlite3.connect(sqlite_file)) as connection:
        if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'data_version'").fetchone():
            connection.execute("UPDATE data_version SET epoch = ?", (uuid.uuid4().hex[:12],))
            connection.commit()
