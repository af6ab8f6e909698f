"""Startup validation for callers without an app (gunicorn's master, scripts/validate_startup.py): build one."""
from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from .. import create_app
from ..config import Config, ConfigError
from ..extensions import db
from ..health.validation import Step, validate_app


def validate_environment(env: Mapping[str, str] | None = None, wait_seconds: float = 0.0) -> list[Step]:
    """Read the configuration, build the app and validate it (for callers without an app)."""
    try:
        config = Config.from_env(env)
    except ConfigError as error:
        return [Step("configuration", False, str(error))]
    app = create_app(config)
    try:
        return validate_app(app, wait_seconds=wait_seconds)
    finally:
        dispose(app)


def dispose(app: Flask) -> None:
    """Close the app's database connections (the gunicorn master must not fork open sockets)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
