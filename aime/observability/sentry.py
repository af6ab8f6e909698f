"""Sentry error reporting: only when SENTRY_DSN is set, and nothing secret ever leaves."""
from __future__ import annotations

import logging
import re
from typing import Any

import sentry_sdk
from flask import Flask
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from ..config import Config
from .logging import scrub, secret_values

log = logging.getLogger(__name__)
FILTERED = "[Filtered]"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_SENSITIVE_KEY = re.compile(r"token|passw|secret|api[_-]?key|authorization|cookie|dsn|session|credential", re.I)


def scrub_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """Recursively mask sensitive keys, credentials in URLs, tokens, known secrets and e-mail addresses."""
    if isinstance(value, str):
        return _EMAIL.sub("[email]", scrub(value, secrets))
    if isinstance(value, dict):
        return {key: FILTERED if isinstance(key, str) and _SENSITIVE_KEY.search(key) and item
                else scrub_value(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        # Headers arrive as [name, value] pairs in some events.
        if len(value) == 2 and isinstance(value[0], str) and _SENSITIVE_KEY.search(value[0]):
            return [value[0], FILTERED]
        return [scrub_value(item, secrets) for item in value]
    return value


def make_before_send(config: Config):
    """A before_send hook bound to this configuration's secret values."""
    secrets = secret_values(config)

    def before_send(event: dict, _hint: dict) -> dict:
        return scrub_value(event, secrets)

    return before_send


def init_sentry(app: Flask, config: Config) -> bool:
    """Configure the SDK when SENTRY_DSN is set (no thread starts until the first event)."""
    if not config.sentry_dsn:
        return False
    release = config.sentry_release or f"aime@{app.config.get('AIME_VERSION', 'unknown')}"
    scrubber = make_before_send(config)
    sentry_sdk.init(
        dsn=config.sentry_dsn,
        release=release,
        environment=config.sentry_environment,
        traces_sample_rate=config.sentry_traces_sample_rate,
        # PII off: data_collection is sentry-sdk's successor of send_default_pii=False (which now warns).
        # No user identity, no request bodies, no frame locals (they can hold tokens or row data).
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        before_send=scrubber,
        before_send_transaction=scrubber,
        # Reported explicitly (errors.py, the health monitor, worker_abort): one event per failure,
        # and log lines stay breadcrumbs instead of becoming duplicate events.
        integrations=[FlaskIntegration(), LoggingIntegration(level=logging.INFO, event_level=None)],
        shutdown_timeout=2,
    )
    app.extensions["aime.sentry"] = release
    return True
