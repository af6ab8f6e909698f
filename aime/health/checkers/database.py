"""database (critical): a real round trip, its latency, connections in use, SQLite journal mode and write lock."""
from __future__ import annotations

import os
import time

from flask import current_app

from ...extensions import db
from .base import Checker, CheckResult, failed, passed


def _describe(error: Exception) -> str:
    # The class name only: driver messages can carry host names, users or SQL.
    orig = getattr(error, "orig", None)
    return type(orig or error).__name__


class DatabaseChecker(Checker):
    """Round trip to the database; on SQLite also proves the write lock can be taken."""

    name = "database"
    critical = True
    component_type = "datastore"
    measurement = "responseTime"

    def check(self) -> CheckResult:
        """SELECT 1 (and BEGIN IMMEDIATE/ROLLBACK on SQLite) on a pooled connection."""
        config = current_app.extensions["aime.config"]
        engine = db.engine
        started = time.perf_counter()
        details: dict = {"backend": engine.dialect.name}
        if config.is_sqlite:
            # Pooled connections keep reading a deleted or chmod-ed file happily: ask the file itself.
            problem = _sqlite_file_problem(engine.url.database)
            if problem:
                return failed(problem, round((time.perf_counter() - started) * 1000, 2), "ms", **details)
        raw = None
        try:
            raw = engine.raw_connection()
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            if config.is_sqlite:
                details.update(self._sqlite_probe(cursor, config))
            cursor.close()
        except Exception as error:  # noqa: BLE001 - any failure of the round trip is the finding
            ms = round((time.perf_counter() - started) * 1000, 2)
            text = str(getattr(error, "orig", error)).lower()
            if "locked" in text or "busy" in text:
                return failed("database is locked by another writer", ms, "ms", **details)
            return failed(f"database unreachable ({_describe(error)})", ms, "ms", **details)
        finally:
            if raw is not None:
                _close_quietly(raw)
        ms = round((time.perf_counter() - started) * 1000, 2)
        pool = engine.pool
        details["pool_in_use"] = pool.checkedout() if hasattr(pool, "checkedout") else None
        return passed("database answers", ms, "ms", **details)

    def _sqlite_probe(self, cursor, config) -> dict:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
        # Wait for the write lock for 80% of the check deadline (so the answer is "locked", not a bare
        # timeout), then give the connection its usual busy timeout back.
        cursor.execute(f"PRAGMA busy_timeout={int(config.health_check_timeout * 800)}")
        try:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("ROLLBACK")
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(config.sqlite_busy_timeout_ms)}")
        return {"journal_mode": mode}


def _sqlite_file_problem(path: str | None) -> str | None:
    if not path or path == ":memory:":
        return None
    if not os.path.exists(path):
        return "database file is missing"
    if not os.access(path, os.W_OK):
        return "database file is not writable"
    return None


def _close_quietly(raw) -> None:
    try:
        raw.close()
    except Exception:  # noqa: BLE001 - a broken connection is already reported by the check
        pass
