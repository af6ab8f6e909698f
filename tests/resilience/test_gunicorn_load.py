"""Against ONE real gunicorn (3 workers, SQLite): 8 writers at once, the write lock held by another process,
kill -9 of a worker, a soak, and clients trickling their requests."""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, UTC
from multiprocessing import get_context
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import TEST_TOKEN
from tests.support.servers import Gunicorn, migrate
from tests.support.polling import poll

pytestmark = [pytest.mark.resilience, pytest.mark.integration, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
WORKERS, THREADS, TIMEOUT = 3, 4, 10
# The durations; raise them for a longer run on demand (e.g. AIME_SOAK_SECONDS=1800).
WRITERS_SECONDS = float(os.environ.get("AIME_WRITERS_SECONDS", "30"))
SOAK_SECONDS = float(os.environ.get("AIME_SOAK_SECONDS", "120"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One gunicorn for the whole module (3 workers x 4 threads), on a migrated SQLite database."""
    root = tmp_path_factory.mktemp("gunicorn-load")
    data = root / "data"
    data.mkdir()
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": TEST_TOKEN, "AIME_WORKERS": str(WORKERS),
           "AIME_THREADS": str(THREADS), "AIME_TIMEOUT": str(TIMEOUT), "AIME_LOG_LEVEL": "warning",
           "AIME_DISK_MIN_FREE_MB": "0", "AIME_HEALTH_SUCCESS_TTL": "0.5", "AIME_GRACEFUL_TIMEOUT": "5"}
    migrate(env)
    gunicorn = Gunicorn(env, root / "gunicorn.log", "tests.support.slow_app:app")
    for key in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_STARTUP_VALIDATED",
                "AIME_STARTED_AT"):
        gunicorn.env.pop(key, None)
    gunicorn.start(wait_path="/ready")
    poll(lambda: len(workers(gunicorn)) == WORKERS, what="all workers up")
    gunicorn.data_dir = data
    yield gunicorn
    gunicorn.stop()


def workers(server) -> list[int]:
    """Pids of the master's worker processes."""
    path = f"/proc/{server.proc.pid}/task/{server.proc.pid}/children"
    with open(path, encoding="ascii") as handle:
        return [int(pid) for pid in handle.read().split()]


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def stored_listens(server) -> int:
    """Rows in listens, read straight from the SQLite file."""
    engine = sa.create_engine(f"sqlite:///{server.data_dir / 'musique.db'}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM listens")).scalar_one()
    finally:
        engine.dispose()


def iso(epoch: int) -> str:
    """UTC ISO 8601 of an epoch second."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_for(base_url: str, writer: int, seconds: float) -> Counter:
    """One writer process: POST distinct plays for `seconds`; count the answers (or the exception names)."""
    answers: Counter = Counter()
    session = requests.Session()
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        # Distinct titles: the same track again within the dedup window would rightly be a 409.
        body = {"artist": f"Writer {writer}", "title": f"Song {i}", "album": f"Album {writer}",
                "played_at": iso(1_600_000_000 + writer * 10_000_000 + i)}
        try:
            answers[str(session.post(base_url + "/api/v1/history/tracks", json=body, headers=AUTH,
                                     timeout=30).status_code)] += 1
        except requests.RequestException as error:
            answers[type(error).__name__] += 1
    return answers


def test_eight_processes_writing_at_once_lose_nothing_and_get_no_5xx(server):
    before = stored_listens(server)
    with ProcessPoolExecutor(8, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(write_for, [server.base_url] * 8, range(8), [WRITERS_SECONDS] * 8))
    total = sum(results, Counter())
    assert set(total) == {"201"}, total  # no 5xx, no 409, no connection error
    assert stored_listens(server) - before == total["201"]  # every acknowledged write is there, no extra
    assert total["201"] > 8 * 10  # really concurrent traffic, not a trickle


def test_a_write_lock_held_15_s_by_another_process_gives_503s_in_budget_never_500_and_waits_succeed(server):
    # The service's defaults: each attempt waits up to 5 s inside SQLite (AIME_SQLITE_BUSY_TIMEOUT_MS), retried
    # with backoff for 10 s (AIME_WRITE_RETRY_SECONDS). This process holds the write lock for 15 s.
    before = stored_listens(server)
    answers: dict[str, tuple[requests.Response, float]] = {}

    def write(name: str, at: float):
        time.sleep(max(0.0, at - time.monotonic()))  # the moment this client writes, not a wait for state
        body = {"artist": "Lock", "title": name, "played_at": iso(1_700_000_000 + len(name))}
        response = requests.post(server.url("/api/v1/history/tracks"), json=body, headers=AUTH, timeout=60)
        answers[name] = (response, time.monotonic())

    holder = sqlite3.connect(str(server.data_dir / "musique.db"), isolation_level=None, timeout=10)
    holder.execute("BEGIN IMMEDIATE")
    locked_at = time.monotonic()
    writers = [threading.Thread(target=write, args=("early", locked_at + 0.5)),  # its budget ends first
               threading.Thread(target=write, args=("late one", locked_at + 8))]  # the lock goes within its budget
    for thread in writers:
        thread.start()
    try:
        while time.monotonic() < locked_at + 15:
            assert requests.get(server.url("/live"), timeout=2).status_code == 200  # probes are not held
            time.sleep(0.5)
    finally:
        holder.execute("ROLLBACK")
        released_at = time.monotonic()
        holder.close()
    for thread in writers:
        thread.join(60)
    early, early_at = answers["early"]
    assert early.status_code == 503 and early_at < released_at  # gave up within its budget, lock still held
    assert early.headers["Content-Type"] == "application/problem+json" and early.headers["Retry-After"] == "5"
    assert early.json()["type"] == "https://aime.local/problems/database-unavailable"
    assert "locked" not in early.text
    late, late_at = answers["late one"]
    assert late.status_code == 201 and late_at >= released_at  # waited for the lock, then wrote
    assert stored_listens(server) == before + 1  # the 503 wrote nothing


def fetch_slow(server, tag: str) -> tuple[str, int | None]:
    """GET /slow on a fresh connection: ('200', worker pid) or (failure, None)."""
    try:
        response = requests.get(server.url(f"/slow?seconds=3&tag={tag}"), headers={"Connection": "close"},
                                timeout=30)
    except requests.ConnectionError:
        return "reset", None
    return str(response.status_code), response.json()["pid"]


def last_started(markers: Path) -> int:
    """The worker that started the newest /slow request: that request is surely still in flight.

    (A gthread worker queues connections beyond its threads, so by the time every request has started the
    first ones may be done; the worker holding the most sockets could have answered all of its own.)
    """
    complete = [marker for marker in markers.iterdir() if not marker.name.startswith(".")]
    newest = max(complete, key=lambda marker: marker.stat().st_mtime_ns)
    return int(newest.read_text())


def test_kill_9_of_a_worker_mid_request_is_replaced_and_the_next_requests_succeed(server):
    before = set(workers(server))
    started = server.data_dir / "slow-started"
    tags = [f"kill-{i}" for i in range(WORKERS * THREADS)]
    with ThreadPoolExecutor(len(tags)) as pool:
        futures = [pool.submit(fetch_slow, server, tag) for tag in tags]
        # Every request has started (the first ones may be done: see last_started).
        poll(lambda: all((started / tag).exists() for tag in tags), what="all slow requests in flight")
        victim = last_started(started)
        assert victim in before, (victim, before)
        os.kill(victim, signal.SIGKILL)
        outcomes = [future.result() for future in futures]
    kinds = Counter(kind for kind, _ in outcomes)
    assert set(kinds) <= {"200", "reset"}, kinds
    # Only what the killed worker had in flight is lost: at most one request per thread. (It may have answered
    # earlier ones: gthread workers accept more connections than they have threads and queue them.)
    assert 1 <= kinds["reset"] <= THREADS, (kinds, victim, outcomes)
    # gunicorn forks a replacement; the service answers every request again.
    poll(lambda: len(workers(server)) == WORKERS and victim not in workers(server), what="worker replaced")
    for _ in range(30):
        response = requests.get(server.url("/api/v1/collection/albums"), headers={"Connection": "close"}, timeout=10)
        assert response.status_code == 200
    assert requests.get(server.url("/ready"), timeout=10).status_code == 200


READS = ["/api/v1/history/tracks?page_size=20", "/api/v1/collection/albums", "/api/v1/search?q=writer",
         "/api/v1/history/stats", "/api/v1/history/top/artists"]


def test_soak_steady_mixed_load_no_errors_flat_memory_exact_counters(server):
    rate, threads, seconds = 8.0, 4, SOAK_SECONDS  # requests/s per thread
    # Warm-up: the first third (was 10 s). A 300 s run of this test measured the busier workers at +6-9 % RSS
    # between 10 and 48 s and +2 % between 100 and 312 s. What grows is free memory glibc keeps, not anything
    # held: under the writes (reads alone stay flat to 10 kB over 5,000 requests) a worker's arenas spread while
    # the bytes malloc has handed out (SQLite's included) and Python's blocks stay flat; gunicorn.conf.py's glibc
    # settings (two arenas, a fixed trim threshold: aime/server/allocator.py) roughly halve that growth
    # (docs/benchmarks.md, "Worker memory over a soak (soak-rss)"). It was not seen to level off: with
    # AIME_SOAK_SECONDS=600 this test failed on the rule, busiest worker +20 % on main and +12 % with the settings.
    # The spreading came from SQLite's page caches: each write makes every other connection drop its pages and malloc
    # them again. With the master's page slots (aime/server/allocator.py, share_sqlite_page_cache) they stay in one
    # buffer: at 600 s the workers grew +8.7 %, +3.7 %, +0.6 % (main beside it +10.9 %, +7.5 %, +6.3 %; one pair,
    # docs/benchmarks.md, "Worker memory over a soak, the write path (soak-rss2)"). Not flat yet: where the busiest
    # worker's remaining growth sits was not broken down (one worker driven alone kept its arenas flat).
    # A leak grows the same in every third, so it still shows after this warm-up.
    warmup = max(10.0, seconds / 3)
    per_thread = int(rate * seconds)
    sent = [0] * threads  # one counter per thread: no shared increment
    failures: list[str] = []
    rss: dict[str, dict[int, int]] = {}
    start = time.monotonic() + 0.5
    before = requests.get(server.url("/health"), timeout=10).json()
    requests_before, errors_before = before["requests"], before["errors"]

    def load(n: int):
        session = requests.Session()
        for i in range(1, per_thread + 1):  # counted, not compared with a float sum: exactly rate x seconds
            due = start + (i - 1) / rate
            time.sleep(max(0.0, due - time.monotonic()))  # pacing a steady rate, not waiting for a result
            try:
                if i % 4 == 0:
                    response = session.post(server.url("/api/v1/history/tracks"), headers=AUTH, json={
                        "artist": f"Soak {n}", "title": f"Track {i}",
                        "played_at": iso(1_650_000_000 + n * 10_000_000 + i)}, timeout=30)
                    ok = response.status_code == 201
                else:
                    response = session.get(server.url(READS[i % len(READS)]), timeout=30)
                    ok = response.status_code == 200
            except requests.RequestException as error:
                failures.append(repr(error))
                continue
            finally:
                sent[n] += 1
            if not ok:
                failures.append(f"{response.status_code} {response.request.path_url}")

    def sample(label: str):
        rss[label] = {pid: rss_kib(pid) for pid in workers(server)}

    pool = [threading.Thread(target=load, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    time.sleep(max(0.0, start + warmup - time.monotonic()))  # the measurement point, not a wait for state
    sample("warm")
    for thread in pool:
        thread.join(seconds + 60)
    sample("end")
    assert failures == []
    assert sum(sent) == per_thread * threads
    # Every request the generator sent is counted once in /health (probes excluded), across the workers.
    health = poll(lambda: (lambda h: h if h["requests"] - requests_before == sum(sent) else None)(
        requests.get(server.url("/health"), timeout=10).json()), timeout=5, what="counters settled")
    assert health["errors"] == errors_before  # none of them was a 5xx
    for pid, warm in rss["warm"].items():
        if pid in rss["end"]:
            growth = (rss["end"][pid] - warm) / warm
            assert growth < 0.10, f"worker {pid}: {warm} KiB -> {rss['end'][pid]} KiB ({growth:.1%})"


BODY_HEAD = (b"POST /api/v1/history/tracks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Authorization: Bearer " + TEST_TOKEN.encode() + b"\r\nContent-Length: 100000\r\n\r\n")


class Trickler:
    """A slowloris-style client: `head` at once, then one byte every 0.5 s until told to stop or cut off.

    It keeps whatever the server answers, read as it comes (a reset after the close could discard it)."""

    def __init__(self, server, head: bytes, byte: bytes = b" "):
        self.sock = socket.create_connection(("127.0.0.1", server.port))
        self.sock.sendall(head)
        self.closed, self.answer, self.byte = threading.Event(), bytearray(), byte
        threading.Thread(target=self._trickle, daemon=True).start()

    def _trickle(self):
        try:
            while not self.closed.is_set():
                if select.select([self.sock], [], [], 0.5)[0]:  # the client's pace, listening meanwhile
                    data = self.sock.recv(65536)
                    if not data:
                        break
                    self.answer.extend(data)
                else:
                    self.sock.sendall(self.byte)
        except OSError:
            pass
        self.closed.set()

    def stop(self):
        self.closed.set()
        self.sock.close()


def test_a_client_trickling_its_request_does_not_stop_the_others(server):
    # One fewer trickler than a worker has threads: even if the kernel hands them all to one worker, it keeps a
    # free thread.
    tricklers = [Trickler(server, BODY_HEAD) for _ in range(THREADS - 1)]
    try:
        for _ in range(30):
            assert requests.get(server.url("/api/v1/collection/albums"), headers={"Connection": "close"},
                                timeout=10).status_code == 200
        assert requests.get(server.url("/ready"), timeout=10).status_code == 200
    finally:
        for trickler in tricklers:
            trickler.stop()


def test_trickling_clients_are_cut_off_within_the_worker_timeout(server):
    # As many tricklers as a worker has threads (all of them, if the kernel hands them to one worker): three
    # trickle a body, one its request line. aime.server.worker gives each AIME_TIMEOUT (10 s here) of waiting, plus
    # 1 s per 500 bytes sent: one byte every 0.5 s runs out after about 10 s.
    log_before = len(server.log_text())
    listens_before = stored_listens(server)
    bodies = [Trickler(server, BODY_HEAD) for _ in range(THREADS - 1)]
    header = Trickler(server, b"G", byte=b"E")
    try:
        for trickler in [*bodies, header]:
            assert trickler.closed.wait(TIMEOUT * 1.5), "a trickling connection was still open"
        for trickler in bodies:  # the application was reading the body: it answers 408 problem+json
            head, _, body = bytes(trickler.answer).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 "), head
            assert b"content-type: application/problem+json" in head.lower()
            assert b"connection: close" in head.lower()
            assert json.loads(body)["type"] == "https://aime.local/problems/request-timeout"
        assert header.answer == b""  # gunicorn had not got a request to answer: closed
    finally:
        for trickler in [*bodies, header]:
            trickler.stop()
    assert requests.get(server.url("/ready"), timeout=10).status_code == 200
    assert stored_listens(server) == listens_before  # nothing half-written
    log = server.log_text()[log_before:]
    assert "the client sent its request too slowly" in log  # the header trickler, one warning line
    assert "Traceback" not in log and "Socket error" not in log and "Error handling request" not in log
