"""AIME: a self-hosted record collection and listening history service."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from .config import Config, attach_config
from .flask_app import AimeFlask, loading_for_a_command
from .version import __version__


def create_app(config: Config | Mapping[str, str] | None = None) -> Flask:
    """Build the Flask app. Only wiring: no connection, file or thread is opened here."""
    # Imported here, not at the top: gunicorn.conf.py and the worker class import aime.config, so this package,
    # in the master before on_starting has set PROMETHEUS_MULTIPROC_DIR, and the app's modules import
    # prometheus_client, which decides once, when first imported, whether its metrics are multi-process.
    from . import cli, database, filemodes, observability

    config = _resolve_config(config)
    filemodes.restrict_new_files()  # a process setting, not I/O: everything AIME writes is 0600/0700
    app = AimeFlask(__name__)
    attach_config(app, config)
    _apply_flask_settings(app, config)

    observability.init_logging(app, config)
    database.init_database(app, config)
    cli.register_commands(app)
    if loading_for_a_command():  # `flask --app aime COMMAND`: the rest waits until the command is known
        app.cli.defer(lambda: _init_the_rest(app, config))
    else:
        _init_the_rest(app, config)
    return app


def _init_the_rest(app: Flask, config: Config) -> None:
    """Migrations, requests, pages, health and the background services: all that `flask import` does not need."""
    from flask_migrate import Migrate

    from . import api, auth, body_limits, deadlines, errors, health, observability, security_headers, web
    from .extensions import cors, db
    from .jobs import scheduler, services_setup

    Migrate(app, db, directory=_migrations_dir(), render_as_batch=True)
    if config.cors_origins:  # with none, flask-cors adds no header to any answer: its hooks would only cost time
        cors.init_app(app, resources=security_headers.cors_resources(), origins=config.cors_origins,
                      supports_credentials=False)
    security_headers.init_security_headers(app)
    auth.init_auth(app)
    observability.init_request_tracking(app)
    deadlines.init_deadlines(app)  # after request tracking: its access line shows a late answer's 503
    health.init_health(app)
    services_setup.init_services(app)
    scheduler.init_scheduler(app)
    api.register_api(app)
    body_limits.init_body_limits(app)
    web.init_web(app)
    errors.register_error_handlers(app)  # after the Api, which installs its own HTTPException handler


def _resolve_config(config: Config | Mapping[str, str] | None) -> Config:
    if isinstance(config, Config):
        return config
    return Config.from_env(config)


def _apply_flask_settings(app: Flask, config: Config) -> None:
    app.config.update(
        SECRET_KEY=config.secret_key,
        JSON_SORT_KEYS=False,
        API_TITLE="AIME",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        AIME_VERSION=__version__,
    )


def _migrations_dir() -> str:
    return str(Path(__file__).resolve().parent.parent / "migrations")
