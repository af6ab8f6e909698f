"""Request deadlines (AIME_TIMEOUT): slow statements are stopped, outbound calls bounded, late answers 503.

In-process on SQLite and PostgreSQL with test-only routes; the gunicorn end-to-end test is in
tests/ops/test_deadlines_gunicorn.py.
"""
from __future__ import annotations

import socket
import threading

import pytest
import sqlalchemy as sa
from flask import jsonify

from aime import deadlines
from aime.database import run_write
from aime.extensions import db
from aime.integrations.http import JsonClient, RetryPolicy
from aime.models.music import Artist
from tests.resilience.conftest import assert_problem
from tests.support.slow_sql import SLOW_SQL  # a statement that runs for minutes unless something stops it



def deadline_app(app, seconds: float = 1.0):
    """The test's app with a short request deadline and three test-only routes."""
    app.extensions["aime.config"] = app.extensions["aime.config"].replace(timeout=seconds)

    def slow_sql() -> str:
        return SLOW_SQL[db.engine.url.get_backend_name()]

    @app.get("/test/slow-read")
    def slow_read():
        return jsonify(count=db.session.execute(sa.text(slow_sql())).scalar())

    @app.post("/test/slow-write")
    def slow_write():
        def work():
            db.session.add(Artist(name="Written Then Stopped", name_key="written then stopped"))
            db.session.flush()
            db.session.execute(sa.text(slow_sql()))
        run_write(work)
        return jsonify(ok=True), 201

    @app.get("/test/fast")
    def fast():
        return jsonify(artists=db.session.execute(sa.text("SELECT count(*) FROM artists")).scalar_one())

    return app


def test_a_slow_read_is_stopped_at_the_deadline_with_a_503_and_the_next_request_works(app):
    client = deadline_app(app).test_client()
    response = client.get("/test/slow-read")
    body = assert_problem(response, 503)
    assert body["type"] == "https://aime.local/problems/deadline-exceeded"
    assert response.headers["Retry-After"] == "5"
    # Same thread, same pooled connection: nothing of the stopped statement is left behind.
    for _ in range(3):
        assert client.get("/test/fast").get_json() == {"artists": 0}


def test_a_write_past_its_deadline_is_rolled_back(app):
    application = deadline_app(app)
    client = application.test_client()
    response = client.post("/test/slow-write")
    assert_problem(response, 503)
    assert response.get_json()["type"] == "https://aime.local/problems/deadline-exceeded"
    assert client.get("/test/fast").get_json() == {"artists": 0}  # the flushed row was not committed
    with application.app_context():
        assert db.session.execute(sa.text("SELECT count(*) FROM artists")).scalar_one() == 0


def test_work_outside_a_request_has_no_deadline(app):
    # Background jobs and the CLI: no request, so no deadline, and nothing is bounded or interrupted.
    with app.app_context():
        assert deadlines.remaining() is None
        assert deadlines.bound(30.0) == 30.0
        run_write(lambda: db.session.add(Artist(name="Job", name_key="job")))
        assert db.session.execute(sa.text("SELECT count(*) FROM artists")).scalar_one() == 1


def test_a_background_thread_started_by_a_request_has_no_deadline(app):
    seen = {}
    application = deadline_app(app)

    @application.get("/test/spawn")
    def spawn():
        thread = threading.Thread(target=lambda: seen.update(remaining=deadlines.remaining()))
        thread.start()
        thread.join()
        return jsonify(mine=deadlines.remaining() is not None)

    assert application.test_client().get("/test/spawn").get_json() == {"mine": True}
    assert seen == {"remaining": None}


def test_a_handler_that_finishes_after_its_deadline_answers_503_unless_it_committed(app):
    application = deadline_app(app, seconds=0.2)
    gate = threading.Event()

    @application.get("/test/late")
    def late():
        gate.wait(0.6)  # pure Python work that nothing can interrupt, longer than the deadline
        return jsonify(ok=True)

    @application.post("/test/late-after-commit")
    def late_after_commit():
        run_write(lambda: db.session.add(Artist(name="Kept", name_key="kept")))
        gate.wait(0.6)
        return jsonify(ok=True), 201

    client = application.test_client()
    assert_problem(client.get("/test/late"), 503)
    # Committed before the deadline: the answer stays 201 (a 503 would invite a duplicate).
    assert client.post("/test/late-after-commit").status_code == 201
    assert client.get("/test/fast").get_json() == {"artists": 1}


class HungServer:
    """A TCP server that accepts connections and never answers; counts them."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_an_outbound_call_to_a_hung_server_is_bounded_by_the_request_deadline(app):
    hung = HungServer()
    application = deadline_app(app)

    @application.get("/test/outbound")
    def outbound():
        # Its own timeout (30 s) and retries would take minutes; the request has 1 s.
        client = JsonClient(f"http://127.0.0.1:{hung.port}", service="Hung",
                            timeout=30.0, policy=RetryPolicy(attempts=5, budget=300, initial=0.01, maximum=0.05))
        return jsonify(client.get_json("/x"))

    try:
        response = application.test_client().get("/test/outbound")
        body = assert_problem(response, 503)
        # Stopped by the deadline (not "did not answer usefully after retries", which its own timeout gives).
        assert body["type"] == "https://aime.local/problems/deadline-exceeded"
        assert len(hung.accepted) == 1  # one call, cut at the deadline, not retried
    finally:
        hung.close()


def test_bound_and_cap_inside_a_request(app):
    with app.test_request_context():
        deadlines.start(10.0)
        assert 9.0 < deadlines.bound(30.0) <= 10.0
        assert deadlines.bound(2.0) == 2.0
        assert deadlines.cap(60.0) <= 10.0
        deadlines.start(-1.0)
        with pytest.raises(Exception) as stopped:
            deadlines.bound(2.0)
        assert type(stopped.value).__name__ == "DeadlineExceeded"
        assert deadlines.cap(5.0) == 0.0
        deadlines.clear()
        assert deadlines.remaining() is None



def test_a_postgresql_version_read_behind_a_lock_is_stopped_at_the_deadline_and_the_next_one_answers(app, backend):
    """A kept answer's version read (on the thread's own connection) waits for a lock on data_version (a migration,
    say): stopped by statement_timeout at the request's deadline, set for this request although the connection's
    session had a longer one from the thread's earlier requests; the same connection answers once the lock goes."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's statement_timeout")
    client = app.test_client()
    albums = "/api/v1/collection/albums"
    first = client.get(albums)
    assert client.get(albums).headers["ETag"] == first.headers["ETag"]  # kept, under the default 75 s deadline
    app.extensions["aime.config"] = app.extensions["aime.config"].replace(timeout=1.0)
    with app.app_context():
        url = db.engine.url
    locker = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with locker.connect() as conn:
            conn.execute(sa.text("LOCK TABLE data_version IN ACCESS EXCLUSIVE MODE"))
            body = assert_problem(client.get(albums), 503)
            assert body["type"] == "https://aime.local/problems/deadline-exceeded"
            conn.rollback()
    finally:
        locker.dispose()
    again = client.get(albums)
    assert (again.status_code, again.headers["ETag"]) == (200, first.headers["ETag"])
