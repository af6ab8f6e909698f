"""Fixtures for the resilience suite: SQLite apps with chosen settings, listen counts, a problem+json check."""
from __future__ import annotations

import pytest

from aime import create_app
from tests.conftest import TEST_TOKEN, make_config, upgrade
from tests.support.servers import ROOT

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


@pytest.fixture
def make_app(tmp_path):
    """Build a SQLite app (or one on database_url) in tmp_path with Config overrides; migrated by default."""
    built = []

    def factory(migrate: bool = True, database_url: str | None = None, **overrides):
        config = make_config(tmp_path / f"app{len(built)}", database_url, **overrides)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        app = create_app(config)
        app.config["TESTING"] = True
        if migrate:
            upgrade(app)
        built.append(app)
        return app

    yield factory
    from aime.extensions import db

    for app in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


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

