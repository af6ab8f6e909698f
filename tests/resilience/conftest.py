"""Fixtures for the resilience suite: SQLite apps with chosen settings, listen counts, a problem+json check."""
from __future__ import annotations

from tests.conftest import TEST_TOKEN
from tests.health.conftest import aime_logs  # noqa: F401 - fixture: captures the `aime` logger
from tests.support.servers import ROOT

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


def assert_problem(response, status: int) -> dict:
    """The response is application/problem+json with this status and no internals; returns the body."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "sqlite3", "psycopg", "sqlalchemy", str(ROOT), "File \"", "line "):
        assert leak not in text, f"{leak!r} leaked in {text[:300]}"
    return body


def listen_count(app) -> int:
    """Rows in listens, read through the app's engine."""
    from sqlalchemy import text

    from aime.extensions import db

    with app.app_context():
        count = db.session.execute(text("SELECT count(*) FROM listens")).scalar_one()
        db.session.remove()
        return count

