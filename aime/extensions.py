"""Unbound extension instances; create_app binds them to an app (and makes Flask-Migrate's, which imports Alembic,
only when the app needs it: aime/__init__.py)."""
import logging

from flask_cors import CORS
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger("aime.database")


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


class AimeSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy, whose end-of-context session removal survives a dead connection and skips a context
    that opened no session (a probe, a kept answer).

    AIME used to register a second teardown for the first purpose, so every request removed its session twice,
    each removal asking the scoped registry for the current app context twice (3 % of /live's CPU). The override
    is of the one teardown Flask-SQLAlchemy registers in init_app (tests/ops/test_overridden_internals.py checks
    it still does)."""

    def _teardown_session(self, exc: BaseException | None) -> None:
        registry = self.session.registry
        if not registry.has():
            return
        try:
            self.session.remove()
        except DBAPIError as error:
            # The connection died under the request (PostgreSQL restarted, backend terminated): closing the
            # session's transaction fails. Raised here it would escape the WSGI app after the response was
            # built (gunicorn answers a bare 500); the pool has already invalidated that connection.
            log.warning("dropped a session whose connection died: %s", type(error.orig).__name__)
            registry.clear()


db = AimeSQLAlchemy(model_class=Base)
cors = CORS()
