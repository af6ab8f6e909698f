"""PostgreSQL backends killed while requests run; external APIs failing in every way while the app serves."""
from __future__ import annotations

import json
import threading
import traceback
import time
from datetime import datetime, UTC

import pytest
import sqlalchemy as sa
from werkzeug import Response

from tests.conftest import HANG_ONLY_CHECK_DEADLINE, drop_postgres_database, make_postgres_database
from tests.resilience.conftest import AUTH, assert_problem, listen_count

pytestmark = [pytest.mark.resilience]


@pytest.fixture
def pg_app(make_app, postgres_admin_url):
    """An app on its own fresh PostgreSQL database (so killing its backends touches no other test)."""
    url = make_postgres_database(postgres_admin_url)
    app = make_app(database_url=url, log_level="ERROR", health_success_ttl=0.0, health_failure_ttl=0.0,
                   disk_min_free_mb=0)
    yield app, sa.engine.make_url(url).database
    from aime.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_postgres_database(postgres_admin_url, url)


def iso(epoch: int) -> str:
    """UTC ISO 8601 of an epoch second."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kill_backends(admin_url: str, database: str) -> int:
    """pg_terminate_backend every connection to database; returns how many were killed."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> "
                "pg_backend_pid()"), {"d": database}).all())
    finally:
        engine.dispose()


def test_killed_postgresql_backends_fail_at_most_in_flight_requests_and_the_pool_recovers(pg_app,
                                                                                           postgres_admin_url):
    app, database = pg_app
    threads, stop = 4, threading.Event()
    results: list[tuple[str, int, str]] = []  # (kind, status, body)
    lock = threading.Lock()

    def worker(n: int):
        client = app.test_client()
        i = 0
        while not stop.is_set():
            i += 1
            try:
                outcome = _one_request(client, n, i)
            except Exception:  # noqa: BLE001 - raised through the WSGI app: gunicorn would answer a bare 500
                outcome = ("raised", 500, traceback.format_exc()[:3000])
            with lock:
                results.append(outcome)

    # The artist exists before the threads start (creating one name concurrently is another test).
    assert app.test_client().post("/api/v1/history/tracks", headers=AUTH, json={
        "artist": "Killer", "title": "first", "played_at": iso(1_700_000_000)}).status_code == 201
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    killed = 0
    try:
        for _ in range(5):
            count = len(results)
            while len(results) < count + 20:  # some traffic between kills, not a sleep
                time.sleep(0.01)
            killed += kill_backends(postgres_admin_url, database)
    finally:
        stop.set()
        for thread in pool:
            thread.join(30)
    assert killed >= 5
    statuses = [status for _, status, _ in results]
    failed = [s for s in statuses if s >= 500]
    assert set(statuses) <= {200, 201, 503}, [r for r in results if r[1] not in (200, 201, 503)][:5]
    for _kind, status, body in results:
        if status == 503:
            assert "database-unavailable" in body, body
    # Each kill can break at most the requests running on the connections it killed (4 threads).
    assert len(failed) <= 5 * threads, (len(failed), killed)
    _assert_every_request_succeeds_again(app)
    # Every acknowledged write is stored.
    acknowledged = sum(1 for kind, status, _ in results if kind == "write" and status == 201)
    assert listen_count(app) >= acknowledged + 21


def _one_request(client, n: int, i: int) -> tuple[str, int, str]:
    """Thread n's i-th request, a write or a read by turns: (kind, status, start of the body)."""
    if i % 2:
        response = client.post("/api/v1/history/tracks", headers=AUTH, json={
            "artist": "Killer", "title": f"w{n}-{i}", "played_at": iso(1_704_067_200 + n * 1_000_000 + i)})
    else:
        response = client.get("/api/v1/history/tracks?page_size=5")
    return "write" if i % 2 else "read", response.status_code, response.get_data(as_text=True)[:400]


def _assert_every_request_succeeds_again(app) -> None:
    """After the kills every request succeeds again: pre-ping replaced the dead pooled connections."""
    client = app.test_client()
    for i in range(20):
        response = client.post("/api/v1/history/tracks", headers=AUTH, json={
            "artist": "After", "title": f"after-{i}", "played_at": f"2024-02-01T00:00:{i:02d}Z"})
        assert response.status_code == 201, response.get_json()
        assert client.get("/api/v1/history/tracks").status_code == 200
    assert client.get("/health").status_code == 200


FAULTS = {
    "500": lambda: Response("internal error", status=500),
    "429": lambda: Response("slow down", status=429, headers={"Retry-After": "0"}),
    "malformed": lambda: Response("{not json", status=200, content_type="application/json"),
    "wrong shape": lambda: Response(json.dumps({"choices": []}), status=200, content_type="application/json"),
}


MODELS_STATUS = {"500": 500, "429": 429}  # what the fake's /v1/models answers (the AI check's probe); else 200


@pytest.fixture
def httpserver():
    """A fake external API of this test's own, stopped afterwards: the health checks it triggers can still be
    talking to it after the test, and must not consume another test's expectations on the shared server."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.mark.parametrize("fault", [*FAULTS, "slow"])
def test_a_failing_ai_api_gives_a_bounded_503_and_health_stays_degraded_not_down(make_app, httpserver, fault):
    calls = []

    def handler(request):
        calls.append(request.path)
        if fault == "slow":
            time.sleep(1.0)  # the fake server is slow; the client's timeout (0.3 s) is what is tested
            return Response("{}", status=200)
        return FAULTS[fault]()

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(handler)
    httpserver.expect_request("/v1/models").respond_with_handler(handler)
    # The checks' deadline is one only a hang reaches: /health shows the checks' answers, not how long the
    # loaded test process took to run them (at 0.5 s every check, the database too, timed out now and then).
    app = make_app(log_level="ERROR", ai_base_url=httpserver.url_for("/v1").rstrip("/"), ai_api_key="sk-test",
                   ai_model="m", ai_timeout=0.3, ai_attempts=2, ai_circuit_failures=5,
                   health_check_timeout=HANG_ONLY_CHECK_DEADLINE,
                   lastfm_api_key="k", lastfm_user="u", lastfm_base_url=httpserver.url_for("/v1"),
                   discogs_token="t", discogs_base_url=httpserver.url_for("/v1"), disk_min_free_mb=0)
    client = app.test_client()
    album = client.post("/api/v1/collection/albums", json={"title": "T", "artists": ["A"]}, headers=AUTH)
    calls.clear()
    response = client.post(f"/api/v1/services/ai/enrich-album/{album.get_json()['id']}", headers=AUTH)
    body = assert_problem(response, 503)
    assert body["type"] != "https://aime.local/problems/internal-error"
    completions = [p for p in calls if p.endswith("/chat/completions")]
    assert 1 <= len(completions) <= 2  # bounded: AIME_AI_ATTEMPTS, then a clear 503
    # The stored album is untouched.
    assert client.get(f"/api/v1/collection/albums/{album.get_json()['id']}").get_json()["ai_description"] is None
    health = client.get("/health", headers=AUTH)
    checks = health.get_json()["checks"]
    # Every check passes (any HTTP answer shows the API reachable) but the error rate, which counts the 503:
    # degraded, never down.
    not_passing = {name: (c["status"], c["output"]) for name, c in checks.items() if c["status"] != "pass"}
    assert not_passing == {"error_rate": ("warn", "1 of 3 requests failed in the last 5 minutes (33.33%), above 5.0%")}
    assert (health.status_code, health.get_json()["status"]) == (200, "degraded")
    assert checks["ai"]["output"] == f"reachable (HTTP {MODELS_STATUS.get(fault, 200)})"
    for name in ("ai", "lastfm", "discogs"):
        assert checks[name]["critical"] is False


def test_concurrent_first_plays_of_a_new_artist_are_all_stored(pg_app):
    app, _ = pg_app
    answers: list[int] = []
    for round_ in range(5):
        barrier = threading.Barrier(6)

        def play(n: int, barrier: threading.Barrier, artist: str = f"Brand New {round_}"):
            client = app.test_client()
            barrier.wait()
            answers.append(client.post("/api/v1/history/tracks", headers=AUTH, json={
                "artist": artist, "title": f"song {n}", "played_at": iso(1_710_000_000 + n)}).status_code)

        threads = [threading.Thread(target=play, args=(n, barrier)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert answers == [201] * 30, answers
