"""migrations (critical): the database schema is at the head revision of migrations/."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Flask, current_app

from ...extensions import db
from .base import Checker, CheckResult, failed, passed


def script_heads(app: Flask) -> set[str]:
    """Head revisions shipped with this code (read once per app: the files do not change at runtime)."""
    cached = app.extensions.get("aime.migration_heads")
    if cached is None:
        config = AlembicConfig()
        config.set_main_option("script_location", app.extensions["migrate"].directory)
        cached = set(ScriptDirectory.from_config(config).get_heads())
        app.extensions["aime.migration_heads"] = cached
    return cached


def database_heads() -> set[str]:
    """Revisions the database says it is at (read directly: alembic's context logs on every use)."""
    with db.engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return set()
        return {row[0] for row in connection.execute(sa.text("SELECT version_num FROM alembic_version"))}


def migration_state(app: Flask) -> tuple[bool, str]:
    """(at_head, message) comparing the database to the shipped migrations."""
    expected = script_heads(app)
    current = database_heads()
    if current == expected:
        return True, f"schema at head ({', '.join(sorted(current))})"
    if not current:
        return False, "database not migrated: run `flask --app aime db upgrade`"
    return False, (f"schema at {', '.join(sorted(current))}, code expects {', '.join(sorted(expected))}: "
                   "run `flask --app aime db upgrade`")


class MigrationsChecker(Checker):
    """The schema matches the code."""

    name = "migrations"
    critical = True
    component_type = "datastore"

    def check(self) -> CheckResult:
        """Compare alembic_version with the migration scripts' heads."""
        at_head, message = migration_state(current_app)
        return passed(message) if at_head else failed(message)
