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
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from .. import deadlines
from ..config import current_config
from ..database import (PING_SECONDS, answer_within, file_identity, sqlite_file_path, statement_timeout_setting,
                        unpinged_connection, unpooled_connection)
from ..extensions import db

TABLES = ("data_version", "data_version_marks")  # not models: outside the ORM's metadata on purpose
WATCHED = ("artists", "albums", "album_artists", "tracks", "listens")
ENVIRON_KEY = "aime.data_version"  # where a request keeps the version it read
READ = "SELECT version, epoch, (SELECT max(id) FROM listens) FROM data_version WHERE id = 1"


def current() -> str | None:
    """The data version as a short string, or None when the database has no counter row.

    Read outside the request's session, in autocommit: one statement, its own snapshot, taken before any data
    the request reads (so an answer is never older than the version it is kept under).

    On a connection this thread keeps for it, not a pooled one: the pool's checkout and check-in cost three times
    the SELECT on SQLite (_SqliteReader), and on PostgreSQL (_PostgresReader) as much as the round trip. There, the
    SELECT alone: no BEGIN, no ROLLBACK, no ping (the SELECT is the ping); a connection found dead (PostgreSQL
    restarted) is dropped and the read asked once more on a new one, as the pool's ping would have done. An SQLite
    database in memory (or a file gone missing) is read on a pooled connection.
    """
    engine = db.engine
    known = on_thread(engine, current_config().sqlite_busy_timeout_ms)
    if known is not NO_READER:
        return known
    try:
        with unpinged_connection(engine) as connection:
            return _text(_fetch(connection))
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    with unpinged_connection(engine) as connection:
        return _text(_fetch(connection))


NO_READER = "no reader"  # on_thread's answer for an SQLite database it cannot keep a reader of (in memory, missing)


def on_thread(engine: Engine, busy_timeout_ms: int) -> str | None:
    """The data version read on this thread's own connection to `engine`'s database, as current() reads it, outside
    any app context (aime/api/fast_answers.py); NO_READER when SQLite's file is not one (in memory, missing)."""
    if engine.dialect.name == "postgresql":
        return _text(_PostgresReader.read_on_thread(engine))
    path = _sqlite_path(engine)
    reader = _SqliteReader.of_thread(path, busy_timeout_ms) if path is not None else None
    return NO_READER if reader is None else _text(reader.read())


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
    def of_thread(cls, path: str, busy_timeout_ms: int) -> _SqliteReader | None:
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
        cls._held.reader = cls._open(path, identity, busy_timeout_ms)
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
    def _open(cls, path: str, identity: tuple[int, int], busy_ms: int) -> _SqliteReader:
        # The file's identity is taken before it is opened: replaced in between, the next read opens it again.
        try:
            # mode=rw: a file deleted since the stat is an error here, never created empty.
            connection = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=rw", uri=True,
                                         timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise DBAPIError.instance(READ, None, error, sqlite3.Error) from error
        connection.set_progress_handler(deadlines.expired, PROGRESS_STEPS)  # as the pool's connections
        return cls(os.getpid(), path, identity, connection)


PROGRESS_STEPS = 20_000


class _PostgresReader:
    """A thread's own autocommit connection to PostgreSQL, for the version read alone.

    Made as the pool makes its connections (database.unpooled_connection: the engine's URL and connect args, and
    the class whose every wait ends by the request's deadline plus a margin), but outside the pool: no checkout, no
    check-in. Each read gets the pool's bounds: statement_timeout set from the time left when the session's no
    longer fits it (as the pool's begin hook does), and PING_SECONDS for an answer (as the unpinged read had).
    One per thread, of one pool (engine.dispose() makes a new pool: the next read opens a new connection) and one
    process (a forked worker opens its own and leaves its parent's alone). Closed when its thread ends.
    """

    _held = threading.local()
    _inherited: list[_PostgresReader] = []  # a parent's readers, kept from the garbage collector in a forked child

    def __init__(self, engine: Engine, connection):
        self.pid = os.getpid()
        self.pool = weakref.ref(engine.pool)
        self.timeout_ms: int | None = None  # the session's statement_timeout; None: the server's default
        self.connection = connection
        connection.autocommit = True  # client-side: no BEGIN, no ROLLBACK around the SELECT
        self.cursor = connection.cursor()  # one for every read: a new one per read cost a tenth of the read's CPU

    @classmethod
    def read_on_thread(cls, engine: Engine) -> tuple | None:
        """The version row, read on this thread's reader; on a dead connection, once more on a new one."""
        try:
            return cls._of_thread(engine).read(engine)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        return cls._of_thread(engine).read(engine)

    @classmethod
    def _of_thread(cls, engine: Engine) -> _PostgresReader:
        reader = getattr(cls._held, "reader", None)
        if reader is not None and reader.pool() is engine.pool and reader.pid == os.getpid():
            return reader
        cls.drop()
        if not event.contains(engine, "engine_disposed", _drop_on_dispose):
            event.listen(engine, "engine_disposed", _drop_on_dispose)
        cls._held.reader = cls(engine, unpooled_connection(engine))
        return cls._held.reader

    def read(self, engine: Engine) -> tuple | None:
        """The version row; a connection found dead is dropped (the error says it was invalidated)."""
        dbapi_error = engine.dialect.loaded_dbapi.Error
        cursor = self.cursor
        try:
            with answer_within(PING_SECONDS):
                left = deadlines.statement_timeout_ms()
                setting = statement_timeout_setting(self.timeout_ms, left)
                if setting is not None:
                    self.timeout_ms = _UNKNOWN_TIMEOUT  # until the SET is through
                    cursor.execute(setting)
                    self.timeout_ms = left
                cursor.execute(READ)
                return cursor.fetchone()
        except dbapi_error as error:  # classified as everywhere else (unavailable, deadline)
            disconnected = engine.dialect.is_disconnect(error, self.connection, cursor)
            if disconnected:
                self.drop()
            raise DBAPIError.instance(READ, None, error, dbapi_error,
                                      connection_invalidated=disconnected) from error

    @classmethod
    def drop(cls) -> None:
        """Close this thread's reader, if it has one (a parent's, after a fork, is left open: it is the parent's)."""
        reader = getattr(cls._held, "reader", None)
        cls._held.reader = None
        if reader is not None and reader.pid != os.getpid():
            cls._inherited.append(reader)
        elif reader is not None:
            reader.close()

    def close(self) -> None:
        """Close the cursor and the connection (PostgreSQL ends its backend)."""
        self.cursor.close()
        self.connection.close()

    def __del__(self) -> None:
        # A thread's locals go when it ends: its reader is closed, not left to psycopg's ResourceWarning.
        if self.pid == os.getpid():
            self.close()


def _drop_on_dispose(_engine: Engine) -> None:
    # The gunicorn master disposes of the engine before it forks: no socket of this thread's stays open either.
    _PostgresReader.drop()


_UNKNOWN_TIMEOUT = -1  # matches no time left: the next read sets statement_timeout again


def renew_epoch(sqlite_file: Path) -> None:
    """Give a restored SQLite file a new epoch, so no version (or ETag) from before the restore matches it."""
    with closing(sqlite3.connect(sqlite_file)) as connection:
        if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'data_version'").fetchone():
            connection.execute("UPDATE data_version SET epoch = ?", (uuid.uuid4().hex[:12],))
            connection.commit()
