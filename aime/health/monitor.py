"""Background monitor: refreshes every check each AIME_HEALTH_INTERVAL seconds (logging status changes)."""
from __future__ import annotations

import logging
import threading

from flask import Flask

from ..config import config_of
from .registry import get_registry

log = logging.getLogger(__name__)
KEY = "aime.health_monitor"


def start_monitor(app: Flask) -> None:
    """Start the monitor thread (once per process; called from aime.background.start)."""
    if app.extensions.get(KEY) is not None:
        return
    stop = threading.Event()
    interval = config_of(app).health_interval

    def loop():
        # First round at once so the cache is warm before the first probe arrives (under gunicorn the worker
        # waits for it before its first request: aime.server.hooks.know_health_before_serving).
        while True:
            try:
                get_registry(app).evaluate(force=True)
            except Exception:  # noqa: BLE001 - the monitor must outlive any single failure
                log.exception("health monitor round failed")
            if stop.wait(interval):
                return

    thread = threading.Thread(target=loop, name="aime-health-monitor", daemon=True)
    app.extensions[KEY] = (thread, stop)
    thread.start()


def stop_monitor(app: Flask) -> None:
    """Stop the monitor and wait briefly for it."""
    running = app.extensions.pop(KEY, None)
    if running is None:
        return
    thread, stop = running
    stop.set()
    thread.join(timeout=5)
