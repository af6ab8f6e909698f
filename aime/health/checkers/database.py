"""database (critical): a real round trip, its latency, connections in use, and whether writes are stalled.

Busy is not down: a database that answers reads while a writer holds SQLite's write lock (an import,
the scheduler, a backup, another process) passes, naming AIME's running writer when there is one, or
warns while this process's writes wait. The check never takes the write lock itself. It fails only
when the database cannot be read or reached, its file is missing or read-only, the disk is full, or
writes have waited longer than AIME_DB_WRITE_STALL_SECONDS while nothing committed anywhere.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time

from flask import current_app
from sqlalchemy import select

from ...config import current_config
from ...extensions import db
from ...models import ImportJob, ServiceState
from ...write_activity import activity
from .base import Checker, CheckResult, failed, passed, warned


def _describe(error: Exception) -> str:
    # The class name only: driver messages can carry host names, users or SQL.
    orig = getattr(error, "orig", None)
    return type(orig or error).__name__


class DatabaseChecker(Checker):
    """Round trip to the database (a read: never the write lock); busy writers are named, stalls fail."""

    name = "database"
    critical = True
    component_type = "datastore"
    measurement = "responseTime"

    def __init__(self) -> None:
        self._files: tuple | None = None  # (size, mtime) of the SQLite file and its WAL at the last check
        self._files_changed = time.monotonic()  # when they were last seen changing: someone committed
        self._lock = threading.Lock()

    def check(self) -> CheckResult:
        """SELECT 1 on a pooled connection, then the write state this process knows of."""
        config = current_config()
        engine = db.engine
        started = time.perf_counter()
        details: dict = {"backend": engine.dialect.name}
        if config.is_sqlite:
            # Pooled connections keep reading a deleted or chmod-ed file happily: ask the file itself.
            problem = _sqlite_file_problem(engine.url.database)
            if problem:
                return failed(problem, _ms(started), "ms", **details)
        raw = None
        try:
            raw = engine.raw_connection()
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            if config.is_sqlite:
                cursor.execute("PRAGMA journal_mode")  # a read: in WAL mode it never waits for a writer
                details["journal_mode"] = cursor.fetchone()[0]
            cursor.close()
        except Exception as error:  # noqa: BLE001 - any failure of the round trip is the finding
            if "locked" in str(getattr(error, "orig", error)).lower():
                return failed("database cannot be read: locked", _ms(started), "ms", **details)
            return failed(f"database unreachable ({_describe(error)})", _ms(started), "ms", **details)
        finally:
            if raw is not None:
                _close_quietly(raw)
        ms = _ms(started)
        pool = engine.pool
        details["pool_in_use"] = pool.checkedout() if hasattr(pool, "checkedout") else None
        return self._write_state(config, ms, details)

    def _write_state(self, config, ms: float, details: dict) -> CheckResult:
        writes = activity(current_app)
        now = time.monotonic()
        if writes.disk_full_since is not None:
            return failed("database disk is full: writes are refused", ms, "ms", **details)
        writers = _running_writers()
        if writers:
            details["writers"] = writers
        progress = max(writes.last_commit or 0.0, self._files_progress(config, now))
        waiting = writes.waiting_since
        # Waits still happening (a single write that gave up long ago says nothing about now).
        recent = 2 * (config.write_retry_seconds + config.sqlite_busy_timeout_ms / 1000)
        if waiting is not None and writes.last_busy is not None and now - writes.last_busy <= recent:
            waited = now - max(waiting, progress)
            if waited > config.db_write_stall_seconds:
                return failed(f"no write possible for {waited:.0f} s and no writer progressing", ms, "ms", **details)
            who = f": {', '.join(writers)}" if writers else ""
            return warned(f"database busy, writes waiting{who}", ms, "ms", **details)
        if writers:
            return passed(f"database answers (busy: {', '.join(writers)})", ms, "ms", **details)
        return passed("database answers", ms, "ms", **details)

    def _files_progress(self, config, now: float) -> float:
        """When the SQLite file or its WAL last changed size or time (commits by anyone, any process)."""
        if not config.is_sqlite or not db.engine.url.database:
            return 0.0
        path = db.engine.url.database
        seen = tuple(_stat(p) for p in (path, path + "-wal"))
        with self._lock:
            if seen != self._files:
                self._files, self._files_changed = seen, now
            return self._files_changed


def _running_writers() -> list[str]:
    """AIME's own long writers running now: import jobs, and jobs claimed as running (e.g. a Discogs sync)."""
    try:
        names = [f"import {job_id} running" for job_id in db.session.scalars(
            select(ImportJob.id).where(ImportJob.status == "running").order_by(ImportJob.id))]
        for name, state in db.session.execute(select(ServiceState.name, ServiceState.state)):
            if isinstance(state, dict) and state.get("status") == "running":
                names.append(f"{name} running")
        return names
    except Exception:  # noqa: BLE001 - e.g. tables not migrated yet: the migrations check says so
        return []
    finally:
        db.session.rollback()  # end the read transaction at once


def _stat(path: str) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _sqlite_file_problem(path: str | None) -> str | None:
    if not path or path == ":memory:":
        return None
    if not os.path.exists(path):
        return "database file is missing"
    if not os.access(path, os.W_OK):
        return "database file is not writable"
    return None


def _close_quietly(raw) -> None:
    with contextlib.suppress(Exception):  # a broken connection is already reported by the check
        raw.close()
