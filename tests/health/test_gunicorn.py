"""Under the real gunicorn with 3 workers: exact counters, SIGTERM drain, fast /health when the DB is stuck."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, TEST_TOKEN, drop_postgres_database, make_postgres_database
from tests.support.proxy import TcpProxy
from tests.support.servers import Gunicorn, free_port, migrate
from tests.support.polling import poll

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SLOW_APP = "tests.support.slow_app:app"
_SCRUB = ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_DATA_DIR", "AIME_STARTUP_VALIDATED",
          "AIME_STARTED_AT")


def server_env(tmp_path, **extra) -> dict[str, str]:
    """Environment of one isolated instance with 3 gthread workers."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": TEST_TOKEN, "AIME_WORKERS": "3", "AIME_THREADS": "4",
           "AIME_HEALTH_CHECK_TIMEOUT": "0.8", "AIME_HEALTH_FAILURE_TTL": "0.5", "AIME_HEALTH_SUCCESS_TTL": "2",
           "AIME_DISK_MIN_FREE_MB": "0", "AIME_GRACEFUL_TIMEOUT": "15", "AIME_STARTUP_DB_WAIT_SECONDS": "1"}
    env.update(extra)
    return env


def start(tmp_path, env, module=SLOW_APP, wait_path="/ready") -> Gunicorn:
    """Migrate, then start gunicorn and wait until wait_path answers 200."""
    migrate(env)
    server = Gunicorn(env, tmp_path / "gunicorn.log", module)
    for key in _SCRUB:
        if key not in env:
            server.env.pop(key, None)
    server.start(wait_path=wait_path)
    workers = int(env.get("AIME_WORKERS", "3"))
    # Every worker has run post_worker_init (SIGTERM handler in place, background parts started).
    poll(lambda: len(re.findall(r"worker \d+ ready \(SIGTERM", server.log_text())) >= workers, 60,
         "all workers booted")
    return server


def fresh_get(url, **kwargs):
    """A GET on a new connection (so any worker may answer)."""
    return requests.get(url, headers={"Connection": "close"}, timeout=kwargs.pop("timeout", 10), **kwargs)


def assert_p99_under_a_second(server, path: str = "/health", samples: int = 100, status: int = 503) -> None:
    """`samples` answers on new connections: p99 (nearest rank) under 1 s, none over 3 s, all `status`."""
    elapsed = []
    for _ in range(samples):
        response = fresh_get(server.url(path), timeout=3)
        assert response.status_code == status, response.text
        elapsed.append(response.elapsed.total_seconds())
    elapsed.sort()
    assert elapsed[int(0.99 * samples) - 1] < 1.0, elapsed[-5:]


# The documented bound: a worker may answer with its previous result until success TTL + deadline.
STALE_BOUND = 2.0 + 0.8 + 0.2  # AIME_HEALTH_SUCCESS_TTL + AIME_HEALTH_CHECK_TIMEOUT + clock slack


def probe_until(server, moment: float, path: str = "/health") -> None:
    """Keep probing (each answer within 3 s) until monotonic `moment`: traffic flows while truths settle."""
    while time.monotonic() < moment:
        fresh_get(server.url(path), timeout=3)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One 3-worker instance for the tests that leave it running (it starts in seconds, not for free)."""
    tmp_path = tmp_path_factory.mktemp("shared")
    server = start(tmp_path, server_env(tmp_path))
    server.data_dir = tmp_path / "data"
    yield server
    assert server.stop() == 0


def test_counters_are_exact_across_three_workers(shared_server):
    server = shared_server
    before = fresh_get(server.url("/health")).json()["requests"]  # 0 on a fresh server; a delta stays exact

    def hit(_):
        # A new connection each time: the kernel hands them to whichever worker accepts first.
        response = fresh_get(server.url("/pid"))
        assert response.status_code == 200
        return response.json()["pid"]

    with ThreadPoolExecutor(12) as pool:
        pids = list(pool.map(hit, range(1000)))
    assert len(pids) == 1000
    assert len(set(pids)) >= 2, "the load should have reached more than one worker"
    for _ in range(9):  # whichever worker answers, and probes never count
        body = fresh_get(server.url("/health")).json()
        assert (body["requests"] - before, body["errors"]) == (1000, 0)
    metrics = fresh_get(server.url("/metrics")).text
    assert f'aime_http_requests_total{{endpoint="/pid",method="GET",status="200"}} {1000.0 + before}' in metrics

    # A worker dies: what it counted still counts, and its replacement adds to the same totals.
    booted = server.log_text().count("Booting worker")
    os.kill(pids[0], signal.SIGKILL)
    poll(lambda: server.log_text().count("Booting worker") > booted, 30, "respawn")
    for _ in range(10):
        assert fresh_get(server.url("/pid")).status_code == 200
    for _ in range(6):
        assert fresh_get(server.url("/health")).json()["requests"] - before == 1010


def test_every_request_shows_in_the_next_health_of_every_worker_a_new_worker_too(shared_server):
    # Each worker lists the metrics directory again only when a worker announces its counter file (no system call
    # per /health): a worker started after the others' last listing must still count from its first request.
    server = shared_server
    pids: set[int] = set()
    poll(lambda: pids.add(fresh_get(server.url("/pid")).json()["pid"]) or len(pids) == 3, 60, "every worker seen")
    counted = fresh_get(server.url("/health")).json()["requests"]
    booted = server.log_text().count("Booting worker")
    os.kill(min(pids), signal.SIGKILL)  # its counts stay; its replacement starts with a file of its own
    poll(lambda: server.log_text().count("Booting worker") > booted, 30, "respawn")
    new_worker, health_from = None, set()
    for _ in range(600):
        pid = fresh_get(server.url("/pid")).json()["pid"]
        counted += 1
        new_worker = new_worker or (pid if pid not in pids else None)
        health = fresh_get(server.url("/health"))
        assert health.json()["requests"] == counted
        if new_worker:
            health_from.add(health.headers["X-Served-By"])
            if len(health_from) == 3:
                break
    assert new_worker is not None and str(new_worker) in health_from and len(health_from) == 3


def test_sigterm_flips_ready_at_once_while_in_flight_requests_complete(tmp_path):
    env = server_env(tmp_path, AIME_DRAIN_SECONDS="3")
    server = start(tmp_path, env)
    markers = tmp_path / "data" / "slow-started"
    try:
        assert fresh_get(server.url("/ready")).json() == {"ready": True}
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(requests.get, server.url("/slow?seconds=1.5&tag=inflight"), timeout=30)
            poll(lambda: (markers / "inflight").exists(), 30, "slow request in flight")
            server.signal(signal.SIGTERM)
            ready = poll(lambda: (r := fresh_get(server.url("/ready"))).status_code == 503 and r.json(), 10, "503")
            assert ready == {"ready": False, "reasons": ["draining: shutting down"]}
            assert fresh_get(server.url("/live")).status_code == 200  # still serving while draining
            finished = slow.result(timeout=30)
        assert finished.status_code == 200 and finished.json()["slept"] == 1.5
        assert server.proc.wait(timeout=60) == 0
    finally:
        server.stop()


def test_health_stays_fast_and_healthy_while_another_connection_holds_the_sqlite_write_lock(shared_server):
    # Busy is not down: reads work (WAL), so /health and /ready stay 200 in every worker, past every cache.
    server = shared_server
    holder = sqlite3.connect(str(server.data_dir / "musique.db"), isolation_level=None, timeout=10)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        locked_at = time.monotonic()
        answers = []
        while time.monotonic() < locked_at + STALE_BOUND + 1:  # every worker's check ran under the lock
            answers += [fresh_get(server.url("/health"), timeout=3), fresh_get(server.url("/ready"), timeout=3)]
        assert [r.status_code for r in answers] == [200] * len(answers)
        body = fresh_get(server.url("/health"), timeout=3).json()
        assert (body["status"], body["database"], body["checks"]["database"]["status"]) == (
            "healthy", "healthy", "pass")
        assert_p99_under_a_second(server, status=200)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


class ProxiedPostgres:
    """A new migrated PostgreSQL database that the server reaches through a TcpProxy (stopped, frozen or replaced
    by the test to make the database go away or hang)."""

    def __init__(self, real: str) -> None:
        self.real, self.target, self.port = real, make_url(real), free_port()
        self.url = self.target.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)
        self.proxy = None
        self.reconnect()

    @classmethod
    def create(cls) -> ProxiedPostgres:
        """A new database behind a started proxy."""
        return cls(make_postgres_database(POSTGRES_URL))

    def reconnect(self, blackhole: bool = False) -> None:
        """A new proxy on the same port: the database is back (or, with blackhole, accepts and never answers)."""
        self.proxy = TcpProxy(self.port, (self.target.host or "127.0.0.1", self.target.port or 5432),
                              blackhole=blackhole).start()

    def drop(self) -> None:
        """Stop the proxy and drop the database."""
        self.proxy.stop()
        drop_postgres_database(POSTGRES_URL, self.real)


@pytest.mark.postgres
def test_health_stays_fast_when_postgresql_goes_away_or_hangs(tmp_path):
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (AIME_TEST_POSTGRES_URL unset)")
    database = ProxiedPostgres.create()
    server = None
    try:
        server = start(tmp_path, server_env(tmp_path, DATABASE_URL=database.url), module="wsgi:app")
        database.proxy.stop()  # the database server goes away: connections cut, new ones refused
        gone_at = time.monotonic()
        body = poll(lambda: (r := fresh_get(server.url("/health"), timeout=3)).json()["database"] == "unhealthy"
                    and r.json(), 30, "database unhealthy")
        assert body["status"] == "unhealthy"
        probe_until(server, gone_at + STALE_BOUND)
        assert_p99_under_a_second(server)
        assert_p99_under_a_second(server, "/ready")
        assert fresh_get(server.url("/live"), timeout=3).status_code == 200

        database.reconnect(blackhole=True)  # now it hangs
        assert_p99_under_a_second(server)
    finally:
        database.drop()
        if server is not None:
            server.stop()


def test_failed_startup_validation_stops_the_server_with_a_clear_message(tmp_path):
    env = server_env(tmp_path, DATABASE_URL="postgresql+psycopg://x@127.0.0.1:1/none")
    server = Gunicorn(env, tmp_path / "gunicorn.log", "wsgi:app").start(wait_path="")
    assert server.proc.wait(timeout=60) == 1
    assert server.stop() == 1
    log = server.log_text()
    assert "FAIL database: unreachable after waiting 1s (OperationalError); check DATABASE_URL" in log
    assert "AIME startup validation failed" in log
    assert "Booting worker" not in log


def test_worker_abort_logs_the_stuck_request_stack_and_reports_it(tmp_path, httpserver):
    envelopes = []
    httpserver.expect_request("/api/1/envelope/").respond_with_handler(
        lambda request: envelopes.append(request.get_data()) or _ok())
    env = server_env(tmp_path, SENTRY_DSN=f"http://key@127.0.0.1:{httpserver.port}/1", AIME_WORKERS="1")
    server = start(tmp_path, env)
    markers = tmp_path / "data" / "slow-started"
    try:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(_quiet_get, server.url("/slow?seconds=6&tag=stuck"))
            poll(lambda: (markers / "stuck").exists(), 30, "stuck request in flight")
            worker = int(subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True,
                                        text=True).stdout.split()[0])
            os.kill(worker, signal.SIGABRT)  # what the master sends a worker that missed its timeout
            poll(lambda: "aborted while serving GET /slow" in server.log_text(), 30, "abort logged")
            poll(lambda: any(b"gunicorn worker timeout: GET /slow" in _unzip(e) for e in envelopes), 30, "event")
        log = server.log_text()
        assert re.search(r"slow_app\.py.*in slow", log)
        assert "time.sleep(seconds)" in log
    finally:
        server.stop()


def _ok():
    from werkzeug import Response

    return Response("{}", status=200, content_type="application/json")


def _unzip(body: bytes) -> bytes:
    import gzip

    try:
        return gzip.decompress(body)
    except OSError:
        return body


def _quiet_get(url):
    try:
        return requests.get(url, timeout=60)
    except requests.RequestException:
        return None  # the worker was aborted under it: that is the point


@pytest.mark.postgres
def test_health_answers_from_the_last_result_while_postgresql_hangs_then_tells_the_truth(tmp_path):
    # One worker, checks with a 5 s deadline and no cache (TTL 0: every /health starts a refresh), no monitor rounds
    # after the first: what /health answers while its refresh is blocked on a frozen database, exactly.
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (AIME_TEST_POSTGRES_URL unset)")
    database = ProxiedPostgres.create()
    env = server_env(tmp_path, DATABASE_URL=database.url, AIME_WORKERS="1", AIME_HEALTH_CHECK_TIMEOUT="5",
                     AIME_HEALTH_SUCCESS_TTL="0", AIME_HEALTH_FAILURE_TTL="0", AIME_HEALTH_INTERVAL="3600",
                     AIME_HEALTH_DETAILS="always")  # not with the token: it reads the throttle counters (+1 s)
    server = None

    def health():
        response = requests.get(server.url("/health"), timeout=30)
        body = response.json()
        return (response.status_code, body["status"], body["database"], body["checks"]["database"]["status"],
                body["checks"]["database"]["output"]), body

    try:
        server = start(tmp_path, env, module="wsgi:app")
        log = server.log_text()  # the worker knew its first results before it took a request
        assert log.index("health status changed: unknown -> healthy") < log.index(" ready (SIGTERM")

        # 1. The last result is older than TTL + deadline (0 + 5 s): it no longer vouches for the database. The
        # refresh this request starts sends its queries into the frozen proxy and gets no answer; the request
        # answers from the old result, marked stale: degraded (200), not "healthy", and not after the deadline.
        assert health()[0] == (200, "healthy", "healthy", "pass", "database answers")
        time.sleep(6.5)  # no request, no monitor round: the last result ages past TTL + deadline
        database.proxy.freeze()
        answer, body = health()
        assert database.proxy.swallowed > 0  # the check's query went out and is still unanswered: the check is blocked
        assert answer[:4] == (200, "degraded", "degraded", "warn")
        found = re.fullmatch(r"no result for (\d+)s: a check running for \d+\.\ds has not answered yet "
                             r"\(last: pass, database answers\)", answer[4])
        assert found and int(found[1]) >= 6, answer[4]
        assert body["checks"]["migrations"]["status"] == "warn"  # hung on the same database

        # 2. At the refresh's deadline the hang is the finding: unhealthy, 503.
        body = poll(lambda: (got := health())[0][0] == 503 and got, 30, "503 at the deadline")[1]
        assert (body["status"], body["database"], body["checks"]["database"]["output"]) == (
            "unhealthy", "unhealthy", "timed out after 5s")

        # 3. The database goes away (connections cut, new ones refused): still 503, now saying so.
        database.proxy.stop()
        poll(lambda: health()[0] == (503, "unhealthy", "unhealthy", "fail", "database unreachable (OperationalError)"),
             30, "unreachable")

        # 4. It is back: healthy again.
        database.reconnect()
        poll(lambda: health()[0] == (200, "healthy", "healthy", "pass", "database answers"), 30, "recovered")

        # 5. A recent result (younger than TTL + deadline) stands as it is while the refresh hangs: healthy, 200,
        # the database last seen before the freeze.
        assert health()[0] == (200, "healthy", "healthy", "pass", "database answers")
        database.proxy.freeze()
        frozen_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer, body = health()
        assert database.proxy.swallowed > 0
        assert answer == (200, "healthy", "healthy", "pass", "database answers")
        assert body["checks"]["database"]["observed_at"] <= frozen_at  # seen before the freeze
    finally:
        database.drop()
        if server is not None:
            server.stop()
