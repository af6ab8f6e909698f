"""Logs, request ids and counters, metrics, error reporting."""
from __future__ import annotations

from flask import Flask

from ..config import Config
from .logging import init_logging as _init_logging
from .requests import init_request_tracking
from .sentry import init_sentry


def init_logging(app: Flask, config: Config) -> None:
    """JSON logs and, when SENTRY_DSN is set, error reporting to Sentry."""
    _init_logging(app, config)
    init_sentry(app, config)


__all__ = ["init_logging", "init_request_tracking", "init_sentry"]
