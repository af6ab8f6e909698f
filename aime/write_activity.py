"""What this process knows about its own writes: the last commit, and since when writes have waited.

run_write reports here; the database health check reads it to tell "busy" (writes wait, but the
database answers and commits happen) from "down" (no write possible for longer than the stall budget).
Per app, per process: nothing is shared, nothing is locked in the database to find it out.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask

KEY = "aime.write_activity"


@dataclass
class WriteActivity:
    """Monotonic times of the last commit and of the first unanswered busy wait; the last refusal's kind."""

    last_commit: float | None = None
    waiting_since: float | None = None
    last_busy: float | None = None
    disk_full_since: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def committed(self) -> None:
        """A write transaction committed: writes are possible."""
        with self.lock:
            self.last_commit, self.waiting_since, self.disk_full_since = time.monotonic(), None, None
            self.last_busy = None

    def waited(self) -> None:
        """A write met SQLITE_BUSY (it is retried): writes wait from now, unless they already did."""
        with self.lock:
            self.last_busy = time.monotonic()
            if self.waiting_since is None:
                self.waiting_since = self.last_busy

    def refused_full(self) -> None:
        """A write was refused because the disk (or the database's size limit) is full."""
        with self.lock:
            if self.disk_full_since is None:
                self.disk_full_since = time.monotonic()


def activity(app: Flask) -> WriteActivity:
    """This app's write activity (made on first use)."""
    found = app.extensions.get(KEY)
    if found is None:
        found = app.extensions.setdefault(KEY, WriteActivity())
    return found
