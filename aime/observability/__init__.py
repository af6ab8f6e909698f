"""Logs, request ids and counters, metrics, error reporting.

Imports happen inside the functions: gunicorn's on_starting hook imports this package (for metrics_dir.py)
before PROMETHEUS_MULTIPROC_DIR is set, and prometheus_client, which .requests imports through .metrics,
decides its storage when first imported.
"""
from __future__ import annotations

from flask import Flask

from ..config import Config


def init_logging(app: Flask, config: Config) -> None:
    """JSON logs and, when SENTRY_DSN is set, error reporting to Sentry."""
    from .logging import init_logging as _init_logging
    from .sentry import init_sentry

    _init_logging(app, config)
    init_sentry(app, config)


def init_request_tracking(app: Flask) -> None:
    """Request ids, counters, latency and the access line."""
    from .requests import init_request_tracking as _init_request_tracking

    _init_request_tracking(app)


__all__ = ["init_logging", "init_request_tracking"]
