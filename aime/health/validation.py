"""Startup validation, shared by `flask --app aime validate`, /ready and (through aime/server/startup.py)
scripts/validate_startup.py and gunicorn's when_ready."""
from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from tenacity import Retrying, before_sleep_log, retry_if_exception_type, stop_after_attempt, stop_after_delay
from tenacity import wait_exponential

from ..auth import ensure_api_token, token_path, weak_token_reason
from ..config import Config, config_of
from ..extensions import db
from ..filemodes import private_dir
from .checkers.database import _describe
from .checkers.migrations import migration_state

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # aime/, whose every module the imports step imports


@dataclass(frozen=True)
class Step:
    """One validation line: what was checked, whether it is fine, and what to do if not."""

    name: str
    ok: bool
    message: str


def validate_app(app: Flask, wait_seconds: float = 0.0) -> list[Step]:
    """Run every startup check in order; the database is waited for up to wait_seconds."""
    config: Config = config_of(app)
    steps = [_configuration(config), _imports(), _data_dir(config)]
    with app.app_context():
        database = _database(app, wait_seconds)
        steps.append(database)
        steps.append(_migrations(app) if database.ok else Step("migrations", False, "skipped: database unreachable"))
    return steps


def _configuration(config: Config) -> Step:
    problems = []
    if not config.api_token and not token_path(config).exists():
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
            ensure_api_token(config)
        except OSError as error:
            problems.append(f"no API token and none could be generated ({error.strerror})")
    if config.drain_seconds >= config.graceful_timeout:
        problems.append("AIME_DRAIN_SECONDS must be below AIME_GRACEFUL_TIMEOUT")
    if problems:
        return Step("configuration", False, "; ".join(problems))
    token = "set" if config.api_token else f"stored in {token_path(config)}"
    origins = ", ".join(config.cors_origins) or "none"
    sentry = "on" if config.sentry_dsn else "off"
    message = f"API token {token}; CORS origins: {origins}; Sentry {sentry}"
    weak = weak_token_reason(config.api_token)
    if weak:
        # A warning, not a failure: an existing install keeps starting, but the operator is told at every start.
        log.warning("WARNING: %s", weak)
        message += f"; WARNING: {weak}"
    return Step("configuration", True, message)


def _imports() -> Step:
    failures = []
    count = 0
    for module in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="aime."):
        count += 1
        try:
            importlib.import_module(module.name)
        except Exception as error:  # noqa: BLE001 - report every broken module, not just the first
            failures.append(f"{module.name} ({type(error).__name__}: {error})")
    if failures:
        return Step("imports", False, "cannot import " + "; ".join(failures))
    return Step("imports", True, f"{count} modules import")


def _data_dir(config: Config) -> Step:
    path = config.data_dir
    try:
        private_dir(path)
        fd, name = tempfile.mkstemp(prefix=".validate-", dir=path)
        os.close(fd)
        os.unlink(name)
    except OSError as error:
        return Step("data_dir", False, f"{path} is not usable: {error.strerror}")
    mode = oct(path.stat().st_mode & 0o777)
    return Step("data_dir", True, f"{path} exists, is writable and is private (mode {mode})")


def _database(app: Flask, wait_seconds: float) -> Step:
    stop = stop_after_delay(wait_seconds) if wait_seconds > 0 else stop_after_attempt(1)
    # A database server started after AIME (compose, systemd) is waited for, within a bound.
    retrying = Retrying(retry=retry_if_exception_type(OperationalError), stop=stop, reraise=True,
                        wait=wait_exponential(multiplier=0.2, max=2.0),
                        before_sleep=before_sleep_log(log, logging.WARNING))
    try:
        for attempt in retrying:
            with attempt, db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - the class name tells the operator enough, without secrets
        waited = f" after waiting {wait_seconds:g}s" if wait_seconds > 0 else ""
        return Step("database", False, f"unreachable{waited} ({_describe(error)}); check DATABASE_URL")
    return Step("database", True, f"{db.engine.dialect.name} reachable")


def _migrations(app: Flask) -> Step:
    try:
        at_head, message = migration_state(app)
    except Exception as error:  # noqa: BLE001
        return Step("migrations", False, f"cannot read the schema version ({type(error).__name__})")
    return Step("migrations", at_head, message)


def passed_all(steps: list[Step]) -> bool:
    """True when every step is fine."""
    return all(step.ok for step in steps)


def render(steps: list[Step], as_json: bool = False, tty: bool = False) -> str:
    """Lines for people (✅/❌ on a terminal, PASS/FAIL otherwise) or one JSON document."""
    if as_json:
        return json.dumps({"ok": passed_all(steps), "checks": [asdict(step) for step in steps]}, indent=2)
    marks = ("✅", "❌") if tty else ("PASS", "FAIL")
    lines = [f"{marks[0] if step.ok else marks[1]} {step.name}: {step.message}" for step in steps]
    lines.append("startup validation passed" if passed_all(steps) else "startup validation FAILED")
    return "\n".join(lines)
