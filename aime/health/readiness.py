"""May this instance take traffic? Startup validated, schema at head, database answering, not draining."""
from __future__ import annotations

import os
import threading
import time

from flask import Flask

from ..config import config_of
from .registry import get_registry
from .validation import validate_app

VALIDATED_ENV = "AIME_STARTUP_VALIDATED"
DRAINING_KEY = "aime.draining"
VALIDATION_KEY = "aime.startup_validation"


def init_readiness(app: Flask) -> None:
    """Per-app readiness state (the draining flag is set by the SIGTERM hook)."""
    app.extensions[DRAINING_KEY] = threading.Event()
    app.extensions[VALIDATION_KEY] = {"ok": None, "reason": None, "checked": 0.0, "lock": threading.Lock()}


def start_draining(app: Flask) -> None:
    """From now on /ready answers 503 (called at once when the worker receives SIGTERM)."""
    app.extensions[DRAINING_KEY].set()


def is_draining(app: Flask) -> bool:
    """True once shutdown began."""
    return app.extensions[DRAINING_KEY].is_set()


def startup_validated(app: Flask) -> tuple[bool, str | None]:
    """(ok, reason). Under gunicorn the master validated before forking; elsewhere validate once here."""
    if os.environ.get(VALIDATED_ENV) == "1":
        return True, None
    state = app.extensions[VALIDATION_KEY]
    failure_ttl = config_of(app).health_failure_ttl
    with state["lock"]:
        if state["ok"] or (state["ok"] is False and time.monotonic() - state["checked"] < failure_ttl):
            return state["ok"], state["reason"]
        failing = [step for step in validate_app(app) if not step.ok]
        state["ok"] = not failing
        # Step names only: the messages can hold paths, which anonymous callers do not get.
        state["reason"] = ", ".join(step.name for step in failing) or None
        state["checked"] = time.monotonic()
        return state["ok"], state["reason"]


def readiness(app: Flask) -> tuple[bool, list[str]]:
    """(ready, reasons it is not)."""
    reasons = []
    if is_draining(app):
        reasons.append("draining: shutting down")
    ok, reason = startup_validated(app)
    if not ok:
        reasons.append(f"startup validation failed: {reason}")
    for name, entry in get_registry(app).results(names=["database", "migrations"]).items():
        if entry.result.status == "fail":
            reasons.append(f"{name}: {entry.result.output}")
    return not reasons, reasons
