"""Request deadlines: every request gets AIME_TIMEOUT seconds; what it waits on gets what is left.

The deadline lives in a context variable set when a request starts and cleared when it ends, so only
request code sees one. Background jobs (imports, the scheduler, the tracker, Discogs sync, health checks)
run in threads of their own, which start with an empty context: they have no request deadline and keep
their own bounds (leases, bounded batches, HTTP timeouts). The CLI has none either.

What reads it: the database layer (SQLite's progress handler and busy timeout, PostgreSQL's
`SET LOCAL statement_timeout`, the write retry budget), the HTTP clients (each call's timeout is
`min(its own, remaining)`), and the request's end (a response finished after the deadline becomes 503).
"""
from __future__ import annotations

import math
import time
from contextvars import ContextVar

from flask import Flask, Response, g, has_request_context

from .config import config_of
from .errors import DeadlineExceeded

COMMITTED_KEY = "aime_committed"
_deadline: ContextVar[float | None] = ContextVar("aime_request_deadline", default=None)


def start(seconds: float) -> None:
    """Give the current context a deadline `seconds` from now."""
    _deadline.set(time.monotonic() + seconds)


def clear() -> None:
    """Remove the current context's deadline (the request is over)."""
    _deadline.set(None)


def remaining() -> float | None:
    """Seconds left before the deadline (may be negative), or None when there is no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def expired() -> bool:
    """True when there is a deadline and it has passed."""
    left = remaining()
    return left is not None and left <= 0


def check() -> None:
    """Raise DeadlineExceeded when the deadline has passed."""
    if expired():
        raise DeadlineExceeded()


def bound(timeout: float) -> float:
    """`timeout` capped at the time left; DeadlineExceeded when nothing is left."""
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise DeadlineExceeded()
    return min(timeout, left)


def note_commit() -> None:
    """Remember that this request committed a write (its answer is then never replaced by a 503)."""
    if has_request_context():
        setattr(g, COMMITTED_KEY, True)


def cap(pause: float) -> float:
    """A retry pause cut to the time left: a longer one would only delay the 503 the next try gives."""
    left = remaining()
    return pause if left is None else max(0.0, min(pause, left))


def statement_timeout_ms() -> int | None:
    """The time left in whole milliseconds (at least 1), or None without a deadline."""
    left = remaining()
    if left is None:
        return None
    return max(1, math.ceil(left * 1000))


def init_deadlines(app: Flask) -> None:
    """Start each request's deadline (AIME_TIMEOUT s) and turn a response finished past it into a 503."""
    @app.before_request
    def _start_deadline():
        _deadline.set(time.monotonic() + config_of(app).timeout)  # read per request: tests shorten it on the app

    @app.after_request
    def _late_response(response: Response) -> Response:
        # Work that ran past the deadline without waiting on anything we bound (pure Python) is not
        # answered as if nothing happened: the client, or a proxy with the same timeout, gave up on it.
        # A write that was committed keeps its answer: a 503 would invite the client to repeat it.
        deadline = _deadline.get()
        if deadline is not None and time.monotonic() >= deadline and response.status_code < 400 \
                and not g.get(COMMITTED_KEY):
            return app.handle_user_exception(DeadlineExceeded())
        return response

    @app.teardown_request
    def _end_deadline(_error=None):
        clear()
