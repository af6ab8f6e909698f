"""PostgreSQL hangs (a frozen host, a network partition: no answer, no RST) under the real gunicorn.

Every request that touches the database ends by its deadline plus a small margin with a 503 (problem+json, or the
health document), its thread free again; /live, anonymous /health and requests that need no database keep
answering; when the database answers again everything recovers without a restart. The bound itself is measured
in docs/reliability.md, not asserted here: each request below only has to be answered within a client timeout
(30 s) far above it, so that a hang fails the test.
"""
from __future__ import annotations

import time

import pytest


pytestmark = [pytest.mark.resilience]


def test_a_wait_for_postgresql_ends_at_the_deadline_plus_the_margin_or_sooner_where_asked(monkeypatch):
    from aime import database, deadlines

    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    assert database.wait_timeout() is None  # no request, nothing asked: psycopg waits as it always did
    with database.answer_within(2):
        assert database.wait_timeout() == 2.0
    deadlines.start(3)  # deadline at 103
    try:
        assert database.wait_timeout() == 3.0 + database.NO_ANSWER_MARGIN == 4.0
        with database.answer_within(2):
            now[0] = 100.5
            assert database.wait_timeout() == 1.5
            with database.answer_within(5):  # an inner, longer bound does not lengthen the outer one
                assert database.wait_timeout() == 1.5
            with database.answer_within(0.25):
                assert database.wait_timeout() == 0.25
        assert database.wait_timeout() == 3.5
        now[0] = 110.0  # 7 s past the deadline: nothing more to wait
        assert database.wait_timeout() == 0.0
    finally:
        deadlines.clear()


def test_postgresql_connections_carry_keepalives_and_the_bounded_wait(app, backend):
    from aime.database import _bounded_connection_class
    from aime.extensions import db

    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            connection = raw.dbapi_connection
            assert isinstance(connection, _bounded_connection_class())
            options = {option.keyword.decode(): (option.val or b"").decode() for option in connection.pgconn.info}
            assert {key: options[key] for key in ("connect_timeout", "keepalives", "keepalives_idle",
                                                  "keepalives_interval", "keepalives_count", "tcp_user_timeout")} == {
                "connect_timeout": "5", "keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10",
                "keepalives_count": "3", "tcp_user_timeout": "30000"}
        finally:
            raw.close()
