"""Engine options, SQLite pragmas, and the retried write transaction every service uses."""
from __future__ import annotations

import logging
import math
import os
import sqlite3
import time
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TypeVar
from collections.abc import Callable, Iterator

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from tenacity import Retrying, before_sleep_log, retry_if_exception, stop_after_delay, wait_exponential_jitter

from . import deadlines
from .config import Config, current_config
from .errors import DatabaseUnavailable, DeadlineExceeded, is_deadline_error
from .extensions import db
from .write_activity import activity

log = logging.getLogger(__name__)
T = TypeVar("T")

# How the next SQLite transaction in this thread/context begins: writes ask for IMMEDIATE so that
# the write lock is taken up front (and waited for) instead of failing half-way with SQLITE_BUSY.
_begin_mode: ContextVar[str] = ContextVar("aime_sqlite_begin_mode", default="DEFERRED")


def engine_options(config: Config) -> dict:
    """SQLAlchemy engine options for the configured database."""
    if config.is_sqlite:
        return {"connect_args": {"timeout": config.sqlite_busy_timeout_ms / 1000, "check_same_thread": False}}
    # TCP keepalives and tcp_user_timeout: a server cut off by the network (no RST) is noticed by the kernel, also
    # by the background jobs, which have no request deadline: an idle connection after 30 + 3 x 10 s without an
    # answer to a probe, one whose sent data stays unacknowledged after TCP_USER_TIMEOUT_MS. Requests do not wait
    # for these: each wait of theirs ends at the deadline (see _bounded_connection_class).
    return {"pool_pre_ping": True, "pool_recycle": 3600, "pool_size": 10, "max_overflow": 10,
            "connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "keepalives": 1, "keepalives_idle": 30,
                             "keepalives_interval": 10, "keepalives_count": 3,
                             "tcp_user_timeout": TCP_USER_TIMEOUT_MS}}


def init_database(app: Flask, config: Config) -> None:
    """Bind Flask-SQLAlchemy and register the SQLite pragmas on every new connection."""
    app.config["SQLALCHEMY_DATABASE_URI"] = config.database_url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(config)
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
    db.init_app(app)  # AimeSQLAlchemy: its teardown removes the session, surviving a dead connection
    with app.app_context():
        if config.is_sqlite:
            install_sqlite_hooks(db.engine, config.sqlite_busy_timeout_ms)
        else:
            install_postgresql_hooks(db.engine)


def install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    """Set the pragmas on each connection and let us choose how transactions begin."""

    @event.listens_for(engine, "do_connect")
    def _make_directory(_dialect, _record, cargs, _cparams):
        # The first connection (e.g. `flask db upgrade` on a fresh install) creates the data directory;
        # nothing is created before anything connects.
        path = cargs[0] if cargs else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    path = sqlite_file_path(engine.url)  # the URL never changes: worked out once, not at each checkout

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        record.info[_FILE_KEY] = file_identity(path)
        record.info[_BUSY_KEY] = int(busy_timeout_ms)
        # Every N virtual-machine steps SQLite asks whether to go on: a statement of a request past its
        # deadline is interrupted ("interrupted", turned into a 503). Outside requests it always goes on.
        dbapi_connection.set_progress_handler(deadlines.expired, _PROGRESS_STEPS)

    @event.listens_for(engine, "checkout")
    def _on_checkout(_dbapi_connection, record, _proxy):
        # A database file replaced under the pool (a backup restored after a deletion): pooled connections
        # still hold the old, unlinked file, where a write would be acknowledged and lost. The pool
        # discards such a connection and opens the file that is there now.
        now = file_identity(path)
        if now is not None and now != record.info.get(_FILE_KEY):
            raise DisconnectionError("the SQLite database file was replaced")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Waiting for the write lock is not a statement step: bound it by the deadline too. Set back to the
        # configured value for a transaction without a deadline (a background job on the same connection).
        left = deadlines.statement_timeout_ms()
        wanted = int(busy_timeout_ms) if left is None else min(int(busy_timeout_ms), left)
        if connection.info.get(_BUSY_KEY) != wanted:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={wanted}")
            connection.info[_BUSY_KEY] = wanted
        connection.exec_driver_sql(f"BEGIN {_begin_mode.get()}")


def install_postgresql_hooks(engine: Engine) -> None:
    """Bound each transaction of a request by the time left before its deadline (statement_timeout).

    The timeout is a setting of the connection's session, set outside any transaction and remembered with the
    connection, and set again only when the time left is below it or well above it (_timeout_holds): a
    request's statements never run past its deadline, and most transactions pay no `SET LOCAL` round trip
    (the deadline of a request is the same AIME_TIMEOUT every time). A transaction without a deadline (a
    background job) puts the server's default back first."""

    _skippable_ping(engine)
    connection_class = _bounded_connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        # A new connection of a request: no later than its deadline plus the margin (psycopg waits at least 2 s).
        left = wait_timeout()
        if left is not None:
            if left <= 0:
                raise connection_class.no_answer("no time left before the request's deadline to connect")
            configured = int(cparams.get("connect_timeout") or CONNECT_TIMEOUT_SECONDS)
            cparams = {**cparams, "connect_timeout": max(1, min(configured, math.ceil(left)))}
        return connection_class.connect(*cargs, **cparams)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        left = deadlines.statement_timeout_ms()
        setting = statement_timeout_setting(connection.info.get(_PG_TIMEOUT_KEY), left)
        if setting is None:
            return
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection.info.transaction_status != _PG_IDLE:  # not expected; SET LOCAL then, as before
            if left is not None:
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {left}")
            return
        connection.info.pop(_PG_TIMEOUT_KEY, None)  # unknown until the SET is through
        autocommit = dbapi_connection.autocommit  # True already under isolation_level="AUTOCOMMIT" (VACUUM)
        dbapi_connection.autocommit = True  # no BEGIN: the SET is the session's, past this transaction
        try:
            connection.exec_driver_sql(setting)
        finally:
            if not dbapi_connection.closed:
                dbapi_connection.autocommit = autocommit
        if left is not None:
            connection.info[_PG_TIMEOUT_KEY] = left


# The moment (monotonic) by which a wait for PostgreSQL must end, when a caller wants it sooner than the deadline.
_answer_by: ContextVar[float | None] = ContextVar("aime_postgresql_answer_by", default=None)


@contextmanager
def answer_within(seconds: float) -> Iterator[None]:
    """PostgreSQL must answer each wait inside this block within `seconds` of its start (and by the request's
    deadline plus NO_ANSWER_MARGIN): else the connection is closed and the statement fails as unanswered (an
    OperationalError, so the pool replaces the connection). For small reads whose answer is worth less than the
    time a hung server would take (the pool's ping, the throttle counters)."""
    until = time.monotonic() + seconds
    earlier = _answer_by.get()
    token = _answer_by.set(until if earlier is None else min(earlier, until))
    try:
        yield
    finally:
        _answer_by.reset(token)


def wait_timeout() -> float | None:
    """Seconds the current wait for PostgreSQL may last (at least 0), or None: no bound (outside requests).

    A request's waits end at its deadline plus NO_ANSWER_MARGIN: a server that answers has stopped the statement
    at the deadline itself (statement_timeout), so only a server that does not answer at all (frozen, cut off
    without a reset) is given up on at the margin."""
    bounds = []
    left = deadlines.remaining()
    if left is not None:
        bounds.append(left + NO_ANSWER_MARGIN)
    until = _answer_by.get()
    if until is not None:
        bounds.append(until - time.monotonic())
    return max(0.0, min(bounds)) if bounds else None


@cache
def _bounded_connection_class():
    """psycopg's Connection whose waits for the server end by wait_timeout(): one that is not answered in time
    closes the connection (it is mid-protocol: nothing else may use it) and raises an OperationalError.

    psycopg runs every exchange with the server (query, fetch, commit, rollback, the pool's ping) through
    Connection.wait, in the calling thread, with an optional timeout of its own that raises _WaitTimeout: the
    request's deadline is in that thread's context. Closing from the outside (a timer, cancel()) is not needed,
    and a cancel request would go to the same hung server."""
    import psycopg
    from psycopg import errors

    poll_interval = getattr(psycopg.connection, "_WAIT_INTERVAL", 0.1)  # psycopg's: how often a wait wakes up

    class BoundedConnection(psycopg.Connection):
        @staticmethod
        def no_answer(what: str) -> psycopg.OperationalError:
            return psycopg.OperationalError(f"PostgreSQL did not answer: {what}")

        def wait(self, gen, interval: float = poll_interval, timeout: float | None = None):
            bound = wait_timeout()
            if bound is None or (timeout is not None and timeout <= bound):
                return super().wait(gen, interval=interval, timeout=timeout)
            try:
                return super().wait(gen, interval=interval, timeout=bound)
            except errors._WaitTimeout:
                self.close()
                error = self.no_answer(f"no reply within {bound:.1f}s; connection closed")
            raise error

    return BoundedConnection


# Set while a caller checks a connection out whose first statement tests it anyway (see unpinged_connection).
_ping_skipped: ContextVar[bool] = ContextVar("aime_ping_skipped", default=False)


def _skippable_ping(engine: Engine) -> None:
    """Let unpinged_connection() check a connection out without the pool's pre-ping (SELECT 1)."""
    dialect = engine.dialect
    ping = dialect.do_ping

    def do_ping(dbapi_connection) -> bool:
        if _ping_skipped.get():
            return True
        with answer_within(PING_SECONDS):  # a SELECT 1 unanswered this long: the server hangs, try a new connection
            return ping(dbapi_connection)

    dialect.do_ping = do_ping  # this engine's dialect only; the pool calls dialect.do_ping at each checkout


@contextmanager
def unpinged_connection(engine: Engine) -> Iterator:
    """A pooled DB-API connection (SQLAlchemy's proxy) checked out without the pre-ping, for one statement that
    is its own test: a caller whose statement fails on a dead connection invalidates it and asks again (as the
    ping would have). On PostgreSQL the ping is a round trip and about a third of the CPU of a version read.
    Standing in for the ping, the statement gets the ping's bound (PING_SECONDS) for an answer."""
    token = _ping_skipped.set(True)
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()
    except dbapi_error as error:
        # The pool raises the driver's own error when it cannot connect (refused, no answer): raised as SQLAlchemy's,
        # like every other database error, so that it is answered as the database being unavailable (503).
        raise DBAPIError.instance(None, None, error, dbapi_error) from error
    finally:
        _ping_skipped.reset(token)
    try:
        with answer_within(PING_SECONDS):
            yield connection
    finally:
        connection.close()  # back to the pool (or discarded, when invalidated)


def statement_timeout_setting(held: int | None, left: int | None) -> str | None:
    """The SET a PostgreSQL session whose statement_timeout is `held` ms (None: the server's default) needs before a
    statement with `left` ms before its deadline (None: none), or None when `held` serves it (_timeout_holds)."""
    if _timeout_holds(held, left):
        return None
    return "SET statement_timeout = DEFAULT" if left is None else f"SET statement_timeout = {left}"


def unpooled_connection(engine: Engine):
    """A new DB-API connection made as the engine's pool makes its own (the engine's URL and connect args, its
    do_connect hooks: on PostgreSQL the deadline-bounded class), but never in the pool: the caller closes it. A
    driver error (refused, no answer) is raised as SQLAlchemy's, as for a pooled connection."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        return engine.pool._creator()  # create_engine's connect function: the hooks run, no pool event does
    except dbapi_error as error:
        raise DBAPIError.instance(None, None, error, dbapi_error) from error


def _timeout_holds(held: int | None, left: int | None) -> bool:
    """True when a session's statement_timeout `held` (None: the default) serves a transaction with `left` ms
    before its deadline (None: none): never later than the deadline, at most TIMEOUT_SLACK_MS (or a tenth of
    the time left) before it."""
    if held is None or left is None:
        return held is None and left is None
    return left - min(TIMEOUT_SLACK_MS, left // 10) <= held <= left


def is_busy_error(error: BaseException) -> bool:
    """True for SQLITE_BUSY/locked and PostgreSQL serialization failures: worth retrying."""
    if not isinstance(error, OperationalError):
        return False
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    return getattr(orig, "sqlstate", None) in ("40001", "40P01")


def is_disk_full_error(error: BaseException) -> bool:
    """True for SQLITE_FULL (disk or max_page_count) and PostgreSQL disk_full (53100)."""
    if not isinstance(error, OperationalError):
        return False
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "full" in str(orig).lower()
    return getattr(orig, "sqlstate", None) == "53100"


_FILE_KEY = "aime_sqlite_file"
_PG_TIMEOUT_KEY = "aime_postgresql_statement_timeout_ms"  # the session's statement_timeout (absent: the default)
_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE
TIMEOUT_SLACK_MS = 1000  # a statement may be cut this much before its request's deadline, never after it
NO_ANSWER_MARGIN = 1.0  # s past its deadline a request waits for a PostgreSQL that does not answer at all
PING_SECONDS = 2.0  # the pool's ping (SELECT 1) unanswered this long: the connection is replaced
CONNECT_TIMEOUT_SECONDS = 5
TCP_USER_TIMEOUT_MS = 30_000
_BUSY_KEY = "aime_sqlite_busy_timeout_ms"
_PROGRESS_STEPS = 20_000  # virtual-machine instructions between two deadline checks (well under 1 ms)


def sqlite_file_path(url) -> str | None:
    """The SQLite database file of an engine URL (None: in memory, another backend, or a URI filename)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:") or url.query.get("uri"):
        return None  # URI filenames: the path is not simply the database string
    return url.database


def file_identity(path: str | None) -> tuple[int, int] | None:
    """(device, inode) of the file at `path` now, or None when it is missing (or `path` is None)."""
    try:
        stat = os.stat(path) if path else None
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino) if stat else None


def _file_identity(url) -> tuple[int, int] | None:
    """(device, inode) of the database file now, or None when it is missing or not a plain file path."""
    return file_identity(sqlite_file_path(url))


def sqlite_file_missing() -> bool:
    """True when the SQLite database file was deleted under us (pooled connections still see the old inode)."""
    path = sqlite_file_path(db.engine.url)
    return path is not None and not os.path.exists(path)


def sqlite_file_replaced() -> bool:
    """True when the file at the database path is no longer the one this session's connection writes to."""
    if sqlite_file_path(db.engine.url) is None:
        return False
    now = _file_identity(db.engine.url)
    return now is not None and now != db.session.connection().connection.info.get(_FILE_KEY)


@contextmanager
def dbapi_cursor(session) -> Iterator:
    """The DB-API cursor of the session's connection, for hot paths; its errors are raised as SQLAlchemy's, so
    that busy, disk-full and deadline errors are told apart (and retried) as everywhere else."""
    connection = session.connection()
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.cursor()
    try:
        yield cursor
    except dbapi_error as error:
        raise DBAPIError.instance(None, None, error, dbapi_error) from error
    finally:
        cursor.close()


def run_write(fn: Callable[..., T], *args, **kwargs) -> T:
    """Run fn in one write transaction (BEGIN IMMEDIATE on SQLite) and commit.

    Retried with bounded, jittered exponential backoff while the database is busy; after the
    budget (AIME_WRITE_RETRY_SECONDS) the caller gets DatabaseUnavailable (503), never a 500.
    """
    config: Config = current_config()
    left = deadlines.remaining()
    budget = config.write_retry_seconds if left is None else max(0.0, min(config.write_retry_seconds, left))
    writes = activity(current_app)
    retrying = Retrying(
        retry=retry_if_exception(_note_busy(writes)),
        stop=stop_after_delay(budget),
        wait=wait_exponential_jitter(multiplier=0.05, max=1.0),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                result = _attempt(fn, *args, **kwargs)
                writes.committed()
    except OperationalError as error:
        if is_deadline_error(error):
            raise DeadlineExceeded() from error
        # Busy until the budget (capped by the deadline) ran out: the cause is the busy database.
        if is_busy_error(error):
            raise DatabaseUnavailable("The database stayed busy; nothing was written. Try again.") from error
        if is_disk_full_error(error):
            writes.refused_full()
            raise DatabaseUnavailable("The disk holding the database is full; nothing was written.") from error
        raise
    bound_wal()  # after the commit, outside the retried attempt: it must never make a written change run twice
    return result


WAL_RESET_BYTES = 64 * 1024 * 1024  # a WAL file past this is checkpointed to its end and truncated after a write
WAL_RESET_WAIT_MS = 200  # how long that checkpoint waits for readers, holding back writers (issue 13's lock budget)
WAL_RESET_EVERY_SECONDS = 10.0  # per process, at most one such attempt in this time (readers may hold it off)
_wal_reset_tried = [float("-inf")]


def bound_wal() -> None:
    """After a commit on SQLite: keep the WAL file bounded when readers always overlap.

    SQLite's automatic checkpoint copies the WAL into the database but the file starts again from its beginning only
    when no reader is using it; under steady reads with writes among them that moment never comes, and the file grows
    without end (150 MB in a 600 s soak on a 2.8 MB database; its index is mapped into every worker). Past
    WAL_RESET_BYTES a TRUNCATE checkpoint waits up to WAL_RESET_WAIT_MS for the readers to move to the newest
    snapshot, copies everything and empties the file; readers that take longer leave it for a later write.
    """
    path = sqlite_file_path(db.engine.url)
    now = time.monotonic()
    if path is None or now - _wal_reset_tried[0] < WAL_RESET_EVERY_SECONDS:
        return
    try:
        if os.path.getsize(path + "-wal") <= WAL_RESET_BYTES:
            return
    except OSError:
        return
    _wal_reset_tried[0] = now
    connection = None
    try:
        connection = db.engine.raw_connection()  # autocommit (isolation_level None): a checkpoint runs outside BEGIN
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={WAL_RESET_WAIT_MS}")
        try:
            busy, pages, copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(connection.info[_BUSY_KEY])}")
            cursor.close()
        log.info("WAL checkpoint (TRUNCATE): %s, %d of %d pages copied",
                 "readers held it off" if busy else "emptied", copied, pages)
    except Exception as error:  # noqa: BLE001 - the write is committed: a failed checkpoint must not fail it
        log.warning("WAL checkpoint failed: %s", error)
    finally:
        if connection is not None:
            connection.close()


def _note_busy(writes):
    """tenacity's retry test, which also tells the health check that writes are waiting."""
    def busy(error: BaseException) -> bool:
        if is_busy_error(error):
            writes.waited()
            return True
        return False
    return busy


def _attempt(fn: Callable[..., T], *args, **kwargs) -> T:
    session = db.session
    session.rollback()  # end any read transaction so the write begins fresh (and IMMEDIATE)
    token = _begin_mode.set("IMMEDIATE")
    try:
        result = fn(*args, **kwargs)
        if sqlite_file_missing():
            # Committing would be acknowledged and then lost with the unlinked file: refuse instead.
            raise DatabaseUnavailable("The database file is missing; nothing was written. Restore it from a "
                                      "backup; writes resume once it is back.")
        if sqlite_file_replaced():
            # Restored while this transaction ran on the old file: the next attempt opens the new one.
            db.session.connection().invalidate()
            raise DatabaseUnavailable("The database file was replaced while writing; nothing was written. "
                                      "Try again.")
        deadlines.check()  # the client stopped waiting: roll back rather than commit what it cannot see
        session.commit()
        deadlines.note_commit()
        return result
    except BaseException:
        session.rollback()
        raise
    finally:
        _begin_mode.reset(token)
