"""One place that starts and stops a process's background work (health monitor, service runner, ...).

Nothing starts at import or in create_app: parts register a (start, stop) pair here while the app is
wired, and the process owner calls start(app)/stop(app) explicitly: gunicorn's post_worker_init and
worker_exit hooks, or a test.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask

log = logging.getLogger(__name__)
Starter = Callable[[Flask], None]
KEY = "aime.background"


def register(app: Flask, name: str, start: Starter, stop: Starter) -> None:
    """Declare a background part; it runs only once start(app) is called."""
    app.extensions.setdefault(KEY, {})[name] = (start, stop)


def start(app: Flask) -> None:
    """Start every registered part, in registration order."""
    for name, (start_fn, _stop) in app.extensions.get(KEY, {}).items():
        log.info("starting background part %s", name)
        start_fn(app)


def stop(app: Flask) -> None:
    """Stop every registered part, in reverse order; one failing stop does not block the others."""
    for name, (_start, stop_fn) in reversed(list(app.extensions.get(KEY, {}).items())):
        try:
            stop_fn(app)
        except Exception:  # noqa: BLE001 - shutting down: log and carry on with the rest
            log.exception("stopping background part %s failed", name)
