"""PostgreSQL hangs (a frozen host, a network partition: no answer, no RST) under the real gunicorn.

Every request that touches the database ends by its deadline plus a small margin with a 503 (problem+json, or the
health document), its thread free again; /live, anonymous /health and requests that need no database keep
answering; when the database answers again everything recovers without a restart. The bound itself is measured
(bench/pg_hang.py, docs/benchmarks.md), not asserted here: each request below only has to be answered within
a client timeout (30 s) far above it, so that a hang fails the test.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import POSTGRES_URL, TEST_TOKEN
from tests.health.test_gunicorn import ProxiedPostgres, server_env, start
from tests.support.polling import poll
from tests.support.proxy import TcpProxy

pytestmark = [pytest.mark.resilience]
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
CLIENT_TIMEOUT = 30  # far above the bound (AIME_TIMEOUT 3 s + 2 s): only a hang reaches it
ALBUMS = "/api/v1/collection/albums"


class PausingProxy(TcpProxy):
    """A TcpProxy whose freeze stops reading instead of swallowing: the bytes wait in the kernel's buffers, as they
    wait in a real partition (TCP retransmits them), and go through when it thaws."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._flowing = threading.Event()
        self._flowing.set()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def _pipe(self, src, dst) -> None:
        try:
            while True:
                self._flowing.wait()
                data = src.recv(65536)
                if not data:
                    break
                self._flowing.wait()  # read just before a freeze: held too
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(src, dst)


class PausingPostgres(ProxiedPostgres):
    def reconnect(self, blackhole: bool = False) -> None:
        self.proxy = PausingProxy(self.port, (self.target.host or "127.0.0.1", self.target.port or 5432),
                                  blackhole=blackhole).start()


def get(server, path: str, **kwargs) -> tuple[requests.Response, float]:
    """GET on a new connection with the long client timeout; (response, seconds it took)."""
    began = time.monotonic()
    response = requests.get(server.url(path), headers={"Connection": "close", **kwargs.pop("headers", {})},
                            timeout=CLIENT_TIMEOUT, **kwargs)
    return response, time.monotonic() - began


def ask(server, what: str) -> requests.Response:
    """"POST": a new album with the token; "/health": with the token; else a GET of that path."""
    if what == "POST":
        return requests.post(server.url(ALBUMS), json={"title": "Never Stored", "artists": ["Frozen Host"]},
                             headers={"Connection": "close", **AUTH}, timeout=CLIENT_TIMEOUT)
    return get(server, what, headers=AUTH if what == "/health" else {})[0]


def album_titles(response) -> list[str]:
    return [item["title"] for item in response.json()["items"]]


@pytest.fixture
def hung_postgres_server(tmp_path):
    """A migrated PostgreSQL database behind a PausingProxy, and gunicorn (1 worker x 4 threads) in front of it."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (AIME_TEST_POSTGRES_URL unset)")
    database = PausingPostgres.create()
    server = None
    try:
        # One worker with 4 threads (so a hung request would take a quarter of all of them), a 3 s request deadline.
        env = server_env(tmp_path, DATABASE_URL=database.url, AIME_WORKERS="1", AIME_THREADS="4", AIME_TIMEOUT="3",
                         AIME_HEALTH_DETAILS="token")
        server = start(tmp_path, env, module="wsgi:app")
        yield server, database
    finally:
        database.proxy.thaw()
        if server is not None:
            server.stop()
        database.drop()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.postgres
def test_reads_and_token_health_answer_503_while_postgresql_hangs_and_200_after_it_thaws(hung_postgres_server):
    server, database = hung_postgres_server
    created = requests.post(server.url(ALBUMS), json={"title": "Hang Test", "artists": ["Frozen Host"]},
                            headers=AUTH, timeout=CLIENT_TIMEOUT)
    assert created.status_code == 201, created.text
    assert album_titles(get(server, ALBUMS)[0]) == ["Hang Test"]
    assert get(server, "/health", headers=AUTH)[0].status_code == 200

    database.proxy.freeze()
    # The health checks find out on their own (their deadline, 0.8 s, past the last result's TTL): from then on
    # /health is 503 whoever asks. What is tested below is that asking with the token answers it too.
    poll(lambda: get(server, "/health")[0].status_code == 503, 20, "health checks time out")
    # Every thread of the worker on a database request at once, twice: the first wave must give its threads back
    # for the second to be answered at all. The second has a write in it.
    for wave in ([ALBUMS, ALBUMS, ALBUMS, "/health"], ["POST", ALBUMS, ALBUMS, "/health"]):
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(ask, [server] * 4, wave))
        for response in answers[:3]:
            assert response.status_code == 503, response.text
            assert response.headers["Content-Type"] == "application/problem+json"
            body = response.json()
            assert (body["status"], body["title"]) == (503, "Database unavailable")
            assert response.headers["Retry-After"] == "5"
        health = answers[3]
        assert health.status_code == 503, health.text
        assert (health.json()["status"], health.json().get("database")) == ("unhealthy", "unhealthy"), health.text
        assert "checks" in health.json()  # the token was accepted: details shown
    # Meanwhile what needs no database answers.
    assert get(server, "/live")[0].status_code == 200
    assert get(server, "/health")[0].status_code == 503

    database.proxy.thaw()
    poll(lambda: get(server, ALBUMS)[0].status_code == 200, 20, "reads answer again")
    assert album_titles(get(server, ALBUMS)[0]) == ["Hang Test"]  # the write of the freeze was not stored
    body = poll(lambda: (r := get(server, "/health", headers=AUTH)[0]).status_code == 200 and r.json(), 20,
                "healthy again")
    # Healthy but for the error rate: the six 503s of the freeze are among the last 5 minutes' requests.
    assert (body["status"], body["database"], body["checks"]["database"]["output"]) == (
        "degraded", "healthy", "database answers")
    assert {name: check["status"] for name, check in body["checks"].items() if check["status"] != "pass"} == {
        "error_rate": "warn"}
    assert body["checks"]["error_rate"]["output"].startswith("6 of ")  # the 5 reads and the write


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


def test_a_connection_made_outside_the_pool_is_made_as_the_pools_are(app, backend):
    """database.unpooled_connection (the version reader's): the same class and connect options as a pooled one."""
    from aime.database import _bounded_connection_class, unpooled_connection
    from aime.extensions import db

    if backend != "postgresql":
        pytest.skip("PostgreSQL only")

    def options(connection) -> dict:
        return {option.keyword.decode(): (option.val or b"").decode() for option in connection.pgconn.info}

    with app.app_context():
        raw = db.engine.raw_connection()
        outside = unpooled_connection(db.engine)
        try:
            assert isinstance(outside, _bounded_connection_class())
            assert options(outside) == options(raw.dbapi_connection)
            assert options(outside)["tcp_user_timeout"] == "30000"
        finally:
            outside.close()
            raw.close()


def test_psycopgs_wait_keeps_the_shape_the_bounded_connection_overrides():
    # aime/database.py overrides psycopg's Connection.wait (a method psycopg's own docs do not list) and catches its
    # private errors._WaitTimeout; setup.cfg bounds psycopg to the series this was checked against.
    import configparser
    import inspect

    import psycopg
    from packaging.requirements import Requirement
    from psycopg import errors
    from psycopg.cursor import Cursor

    from tests.support.servers import ROOT

    assert list(inspect.signature(psycopg.Connection.wait).parameters) == ["self", "gen", "interval", "timeout"]
    assert issubclass(errors._WaitTimeout, psycopg.OperationalError)
    assert isinstance(psycopg.connection._WAIT_INTERVAL, float)
    # Every exchange goes through it: a statement, a commit, a rollback.
    for function in (Cursor.execute, psycopg.Connection.commit, psycopg.Connection.rollback):
        assert ".wait(" in inspect.getsource(function), function
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    requirement = next(Requirement(line.strip()) for line in parser["options"]["install_requires"].splitlines()
                       if line.strip().startswith("psycopg"))
    assert str(requirement.specifier) in ("<3.4,>=3.3", ">=3.3,<3.4")
    assert psycopg.__version__ in requirement.specifier
