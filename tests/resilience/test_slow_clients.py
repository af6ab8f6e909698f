"""Slow clients cannot take the service down: 16 slow-body and 16 slow-header clients at 1 KB/s for 30 s
against real gunicorn with the shipped 2 workers x 4 threads, while probes and API clients are served.

The latency of the probes is printed and reported in docs/benchmarks.md, not asserted here.
"""
from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from collections import Counter
from datetime import datetime, UTC

import pytest
import requests

from tests.conftest import TEST_TOKEN
from tests.support.polling import poll
from tests.support.servers import Gunicorn, migrate

pytestmark = [pytest.mark.resilience, pytest.mark.integration, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
SECONDS = float(os.environ.get("AIME_SLOW_CLIENT_SECONDS", "30"))
RATE = 1024  # bytes per second each slow client sends: above the 500 B/s minimum pace, so never cut off
CLIENTS = 16  # of each kind
PROBE_TIMEOUT = 10.0  # generous per request: a probe held by the slow clients would wait 30 s or more


@pytest.fixture
def server(tmp_path):
    """gunicorn with the shipped worker settings on a migrated SQLite database."""
    data = tmp_path / "data"
    data.mkdir()
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": TEST_TOKEN, "AIME_LOG_LEVEL": "warning",
           "AIME_WORKERS": "2", "AIME_THREADS": "4", "AIME_DISK_MIN_FREE_MB": "0"}
    migrate(env)
    gunicorn = Gunicorn(env, tmp_path / "gunicorn.log")
    for key in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_STARTUP_VALIDATED",
                "AIME_STARTED_AT", "AIME_TIMEOUT", "AIME_CLIENT_MIN_RATE", "AIME_IO_THREADS"):
        gunicorn.env.pop(key, None)
    gunicorn.start(wait_path="/ready")
    yield gunicorn
    gunicorn.stop()


class SlowClient(threading.Thread):
    """Sends a request head (then, for 'body', a body) at RATE bytes per second until told to stop."""

    def __init__(self, port: int, kind: str, stop: threading.Event, index: int):
        super().__init__(daemon=True)
        self.port, self.kind, self.stop, self.index = port, kind, stop, index
        self.sent = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
                if self.kind == "body":  # a complete head, then a body far longer than what is sent
                    # Bodies the application reads: half anonymous (the sign-in form), half with the token.
                    target = (b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                              if self.index % 2 else
                              b"POST /api/v1/history/tracks HTTP/1.1\r\nContent-Type: application/json\r\n"
                              b"Authorization: Bearer " + TEST_TOKEN.encode() + b"\r\n")
                    sock.sendall(target + b"Host: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n")
                    chunk = b"x" * RATE
                else:  # a request line, then one 1 KB header a second, never the blank line
                    sock.sendall(b"GET /api/v1/collection/albums HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    chunk = b"X-Padding: " + b"p" * (RATE - 13) + b"\r\n"
                while not self.stop.is_set():
                    sock.sendall(chunk)
                    self.sent += len(chunk)
                    self.stop.wait(1.0)  # the client's pace
        except OSError as error:
            self.error = repr(error)


def iso(epoch: int) -> str:
    """UTC ISO 8601 of an epoch second."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_32_slow_clients_at_1_kb_per_s_do_not_starve_probes_or_api_requests(server):
    port = int(server.base_url.rsplit(":", 1)[1])
    stop = threading.Event()
    slow = [SlowClient(port, kind, stop, i) for kind in ("body", "header") for i in range(CLIENTS)]
    for client in slow:
        client.start()
    poll(lambda: all(client.sent > 0 for client in slow), 30, "every slow client sending")

    latencies: dict[str, list[float]] = {"/live": [], "/health": [], "api": []}
    answers: Counter = Counter()
    end = time.monotonic() + SECONDS
    session = requests.Session()
    n = 0
    while time.monotonic() < end:
        n += 1
        for name, call in (("/live", lambda: session.get(server.url("/live"), timeout=PROBE_TIMEOUT)),
                           ("/health", lambda: session.get(server.url("/health"), timeout=PROBE_TIMEOUT))):
            started = time.monotonic()
            try:
                answers[(name, call().status_code)] += 1
            except requests.RequestException as error:
                answers[(name, type(error).__name__)] += 1
            latencies[name].append(time.monotonic() - started)
        started = time.monotonic()
        try:
            if n % 5 == 0:  # an ordinary write now and then, the rest reads
                body = {"artist": "Steady", "title": f"Song {n}", "played_at": iso(1_700_000_000 + n)}
                answers[("write", session.post(server.url("/api/v1/history/tracks"), json=body, headers=AUTH,
                                               timeout=PROBE_TIMEOUT).status_code)] += 1
            else:
                answers[("read", session.get(server.url("/api/v1/collection/albums"),
                                             timeout=PROBE_TIMEOUT).status_code)] += 1
        except requests.RequestException as error:
            answers[("api", type(error).__name__)] += 1
        latencies["api"].append(time.monotonic() - started)
        time.sleep(0.2)  # the probes' period
    still_sending = sum(1 for client in slow if client.error is None)
    stop.set()
    for client in slow:
        client.join(10)

    # The slow clients were really there all along (none cut off: they keep above the minimum pace).
    assert still_sending == 2 * CLIENTS, [client.error for client in slow if client.error]
    assert all(client.sent >= RATE * (SECONDS - 1) for client in slow)
    # Every probe and every API request was answered, and answered normally.
    assert set(answers) == {("/live", 200), ("/health", 200), ("read", 200), ("write", 201)}, dict(answers)
    assert answers[("/live", 200)] >= SECONDS  # at least one a second
    for name, values in latencies.items():
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(f"{name}: n={len(values)} p50={statistics.median(values) * 1000:.1f} ms "
              f"p99={p99 * 1000:.1f} ms max={values[-1] * 1000:.1f} ms")


def test_a_client_expecting_100_continue_gets_it_once_before_sending_its_body(server):
    # The body is read before the application runs; a client that waits for "100 Continue" must still get it.
    body = b'{"artist": "Patient", "title": "Waits", "played_at": "2024-01-01T00:00:00Z"}'
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /api/v1/history/tracks HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                     b"Content-Type: application/json\r\nConnection: close\r\n"
                     b"Authorization: Bearer " + TEST_TOKEN.encode() + b"\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(4096)
            assert chunk, interim
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"  # before any byte of the body was sent
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
    assert b"100 Continue" not in answer
