"""Resources are given back even when a request fails."""
from __future__ import annotations

import sqlalchemy as sa

from aime.extensions import db


def test_a_failing_request_returns_its_database_connection(make_app):
    app = make_app()

    @app.get("/read-then-fail")
    def read_then_fail():
        db.session.execute(sa.text("SELECT count(*) FROM albums")).scalar()
        raise RuntimeError("after reading")

    client = app.test_client()
    for _ in range(3):
        assert client.get("/read-then-fail").status_code == 500
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
    assert client.get("/health").json["errors"] == 3
