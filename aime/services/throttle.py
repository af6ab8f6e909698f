"""Fixed-window counters in the database, so that every gunicorn worker (and process) sees the same count.

The default install has no Redis; the database is the one store all workers share, on SQLite and
PostgreSQL alike. Only rare events are counted (failed authentications, paid AI calls), so one row
upsert per event costs nothing a legitimate client would notice.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError

from ..database import answer_within, run_write
from ..extensions import db
from ..models import RateCounter

log = logging.getLogger(__name__)
KEEP_SECONDS = 86400  # rows of windows older than this are deleted as new events arrive
READ_SECONDS = 1.0  # a count unread after this long (PostgreSQL hangs) is taken as 0, like an unreachable database


@dataclass(frozen=True)
class Limit:
    """At most `count` events per `seconds` for one key."""

    count: int
    seconds: int

    def window(self, now: float) -> tuple[int, int]:
        """(start of the current window, seconds until it ends)."""
        start = int(now) - int(now) % self.seconds
        return start, max(1, start + self.seconds - int(now))


def used(key: str, limit: Limit, now: float | None = None) -> tuple[int, int]:
    """(events counted for key in the current window, seconds until the window ends)."""
    start, retry_after = limit.window(time.time() if now is None else now)
    try:
        # A primary-key read: unanswered within READ_SECONDS the server hangs (or is cut off), and the request may
        # not need it at all (/health with the token): it should not wait for its whole deadline here.
        with answer_within(READ_SECONDS):
            row = db.session.execute(select(RateCounter.window_start, RateCounter.count)
                                     .where(RateCounter.key == key)).first()
    except OperationalError:
        # Database unreachable or hung: the request itself will fail on it if it needs it; do not turn that into a
        # lock-out (a legitimate client with the token would be refused for the database's sake).
        log.warning("throttle: counters unreadable, not limiting %s", key)
        db.session.rollback()
        return 0, retry_after
    return (row.count if row is not None and row.window_start == start else 0), retry_after


def record(key: str, limit: Limit, now: float | None = None) -> int:
    """Count one event for key in the current window (atomic across workers); returns the new count."""
    now = time.time() if now is None else now
    start, _ = limit.window(now)
    return run_write(_upsert, key, start, int(now))


def _upsert(key: str, start: int, now: int) -> int:
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(RateCounter).values(key=key, window_start=start, count=1)
    statement = statement.on_conflict_do_update(index_elements=[RateCounter.key], set_={
        # Right-hand sides read the row as it was: a new window starts again at 1.
        "count": case((RateCounter.window_start == start, RateCounter.count + 1), else_=1),
        "window_start": start,
    }).returning(RateCounter.count)
    count = db.session.execute(statement).scalar_one()
    db.session.execute(delete(RateCounter).where(RateCounter.window_start < now - KEEP_SECONDS))
    return count


def reset(key: str) -> None:
    """Forget key's count (after a successful sign-in, say)."""
    run_write(lambda: db.session.execute(delete(RateCounter).where(RateCounter.key == key)))
