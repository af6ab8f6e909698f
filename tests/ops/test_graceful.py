"""Gunicorn's lifecycle under load, with the shipped gunicorn.conf.py: SIGTERM drains, SIGHUP reloads."""
from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from .conftest import poll

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def classify(error: BaseException) -> str:
    """'refused' (never accepted: fine while stopping) or 'reset' (an accepted request lost: a failure)."""
    seen, current = [], error
    while current is not None and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__ or (current.args[0] if current.args and
                                                               isinstance(current.args[0], BaseException) else None)
    if any(isinstance(e, ConnectionRefusedError) for e in seen):
        return "refused"
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)) for e in seen):
        return "reset"
    return f"other: {error!r}"


def fetch(url: str) -> tuple[str, requests.Response | None]:
    """GET on a fresh connection: ('status', response) or (failure kind, None)."""
    try:
        response = requests.get(url, timeout=60, headers={"Connection": "close"})
    except requests.RequestException as error:
        return classify(error), None
    return str(response.status_code), response


class Arrivals:
    """Threads that keep sending new requests until stopped, counting every outcome."""

    def __init__(self, urls: list[str], threads: int = 3):
        self.urls, self.outcomes, self.stop = urls, Counter(), threading.Event()
        self.before: Counter = Counter()  # outcomes of requests sent before `cutoff` was set
        self.cutoff: float | None = None
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]
        self._lock = threading.Lock()

    def _run(self, index: int) -> None:
        n = index
        while not self.stop.is_set():
            sent = time.monotonic()
            kind, _ = fetch(self.urls[n % len(self.urls)])
            n += 1
            with self._lock:
                self.outcomes[kind] += 1
                if self.cutoff is None or sent < self.cutoff:
                    self.before[kind] += 1
            if kind == "refused":
                time.sleep(0.01)  # the server is gone; do not spin

    def __enter__(self) -> Arrivals:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=90)

    def total(self) -> int:
        """How many requests finished so far."""
        with self._lock:
            return sum(self.outcomes.values())


def started(data_dir: str) -> int:
    """How many tagged /slow requests have begun inside a worker."""
    folder = Path(data_dir) / "slow-started"
    return len(list(folder.iterdir())) if folder.is_dir() else 0


def worker_pids(master: int) -> set[int]:
    """Live child processes of the gunicorn master."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == master and fields[0] != "Z":
            pids.add(int(stat.parent.name))
    return pids


def send_raw(port: int, path: str) -> socket.socket:
    """Connect and send one HTTP/1.1 request; the answer is read later with read_raw()."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    return sock


def read_raw(sock: socket.socket) -> tuple[str, dict | None]:
    """('200', body) for a complete answer, or (failure kind, None)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError as error:
        return classify(error), None
    finally:
        sock.close()
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head:
        return "reset", None  # closed without a byte of answer
    status = head.split(b" ", 2)[1].decode()
    return status, json.loads(body) if status == "200" else None


def listen_backlog(port: int) -> int | None:
    """Connections waiting in the kernel's accept queue of the listening socket on port."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
            return int(fields[4].split(":")[1], 16)
    return None


def test_sigterm_drains_50_accepted_requests_while_more_arrive(slow_server):
    # The shipped thread count: 2 workers x 4 threads run 8 requests, the other 42 wait inside gunicorn.
    server = slow_server(AIME_WORKERS="2", AIME_THREADS="4", AIME_GRACEFUL_TIMEOUT="20")
    port = int(server.base_url.rsplit(":", 1)[1])
    plan = [(f"t{i}", 2.0 if i < 10 else 0.5) for i in range(50)]  # some take seconds
    arrivals_urls = [server.url("/api/v1/collection/albums"), server.url("/live"), server.url("/slow?seconds=0.2")]

    with Arrivals(arrivals_urls) as arrivals:
        poll(lambda: arrivals.total() >= 10, 30, "some arrivals answered before the stop")
        sockets = {tag: send_raw(port, f"/slow?seconds={seconds}&tag={tag}") for tag, seconds in plan}
        # All 50 are connected and sent; once the accept queue is empty gunicorn holds every one of them.
        poll(lambda: started(server.env["AIME_DATA_DIR"]) >= 8 and listen_backlog(port) == 0, 30,
             "all 50 requests accepted by the workers")
        arrivals.cutoff = time.monotonic()
        server.signal(signal.SIGTERM)
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = dict(zip(sockets, pool.map(read_raw, sockets.values()), strict=True))
        exit_code = server.proc.wait(timeout=20)  # before the graceful timeout

    assert exit_code == 0
    for tag, seconds in plan:
        kind, body = results[tag]
        assert kind == "200", (tag, kind)
        assert (body["slept"], body["tag"]) == (seconds, tag)
    # Everything sent before the signal was answered normally: no reset, no 5xx. A refused connection never
    # reached the server: its thread took its time stamp before the signal and connected after the listener
    # closed (seen once under CI load), so it is not a request the server dropped.
    answered = {kind: n for kind, n in arrivals.before.items() if kind != "refused"}
    assert set(answered) == {"200"} and answered["200"] >= 10, dict(arrivals.before)
    # New connections after the signal are answered (200) or refused at once; never reset, never a 5xx
    # (a stopping worker takes what is queued and closes its listener: aime/server/worker_io.py).
    after = dict(arrivals.outcomes - arrivals.before)
    assert set(after) <= {"200", "refused"}, after
    print(f"arrivals after SIGTERM: {after}")


def test_sighup_reloads_workers_without_a_failed_request(slow_server):
    server = slow_server(AIME_WORKERS="2", AIME_THREADS="8")
    master = server.proc.pid
    old = poll(lambda: len(worker_pids(master)) == 2 and worker_pids(master), 30, "two workers")
    urls = [server.url("/api/v1/collection/albums"), server.url("/slow?seconds=0.3"), server.url("/ready"),
            server.url("/api/v1/history/tracks")]

    with Arrivals(urls, threads=4) as arrivals:
        poll(lambda: arrivals.total() >= 20, 30, "load before the reload")
        server.signal(signal.SIGHUP)
        new = poll(lambda: (pids := worker_pids(master)) and not pids & old and len(pids) == 2 and pids, 60,
                   "old workers replaced by two new ones")
        answered_by = poll(lambda: fetch(server.url("/pid"))[1], 10, "a new worker answering").json()["pid"]
        after_reload = arrivals.total()
        poll(lambda: arrivals.total() >= after_reload + 20, 30, "load after the reload")

    assert answered_by in new
    outcomes = dict(arrivals.outcomes)
    assert set(outcomes) == {"200"}, outcomes
    assert server.proc.poll() is None  # the master itself stayed up


SHIPPED = {"AIME_WORKERS": "2", "AIME_THREADS": "4", "AIME_GRACEFUL_TIMEOUT": "30"}  # gunicorn.conf.py defaults


def hammered_urls(server) -> list[str]:
    """What 16 clients request over and over: an export, a list, a probe, a request that takes 0.3 s."""
    return [server.url("/api/v1/collection/export/json"), server.url("/api/v1/collection/albums"),
            server.url("/live"), server.url("/slow?seconds=0.3")]


def test_sigterm_under_16_continuous_clients_resets_nothing_and_exits_0(slow_server):
    server = slow_server(**SHIPPED)
    with Arrivals(hammered_urls(server), threads=16) as arrivals:
        poll(lambda: arrivals.total() >= 100, 60, "load before the stop")
        arrivals.cutoff = time.monotonic()
        server.signal(signal.SIGTERM)
        exit_code = server.proc.wait(timeout=30)  # before the shipped graceful timeout
        after_exit = arrivals.total()
        poll(lambda: arrivals.total() >= after_exit + 16, 30, "every client tried once more after the exit")

    assert exit_code == 0
    outcomes = dict(arrivals.outcomes)
    # Every connection was served or refused at once by the kernel: no reset, no 5xx, nothing else.
    assert set(outcomes) <= {"200", "refused"}, outcomes
    # (No "everything sent before the signal got 200": a client thread can note its send time, lose the
    # CPU, and connect after the listener closed, which is a refusal, not a loss.)
    assert arrivals.before["200"] >= 100, dict(arrivals.before)
    print(f"SIGTERM under 16 clients: {outcomes}, after the signal: {dict(arrivals.outcomes - arrivals.before)}")


def test_sighup_under_16_continuous_clients_refuses_and_resets_nothing(slow_server):
    server = slow_server(**SHIPPED)
    master = server.proc.pid
    old = poll(lambda: len(worker_pids(master)) == 2 and worker_pids(master), 30, "two workers")
    with Arrivals(hammered_urls(server), threads=16) as arrivals:
        poll(lambda: arrivals.total() >= 100, 60, "load before the reload")
        server.signal(signal.SIGHUP)
        poll(lambda: (pids := worker_pids(master)) and not pids & old and len(pids) == 2 and pids, 60,
             "old workers replaced by two new ones")
        after_reload = arrivals.total()
        poll(lambda: arrivals.total() >= after_reload + 100, 60, "load after the reload")

    outcomes = dict(arrivals.outcomes)
    assert set(outcomes) == {"200"}, outcomes
    assert server.proc.poll() is None


def test_a_worker_replaced_by_a_reload_is_recognised_and_a_stale_mark_is_not(tmp_path, monkeypatch):
    """SIGHUP: the master names the workers it replaces; their SIGTERM must not turn /ready to 503."""
    from types import SimpleNamespace

    from aime.server import hooks

    monkeypatch.setenv(hooks.METRICS_DIR_ENV, str(tmp_path))
    assert hooks._replaced_by_reload(101) is False  # no reload yet: a SIGTERM is a stop
    hooks.note_reload(SimpleNamespace(WORKERS={101: object(), 102: object()}))
    assert (hooks._replaced_by_reload(101), hooks._replaced_by_reload(102), hooks._replaced_by_reload(103)) == (
        True, True, False)
    (tmp_path / hooks.RELOAD_MARK).write_text(f"{time.time() - hooks.RELOAD_MARK_SECONDS - 1:.3f} 101")
    assert hooks._replaced_by_reload(101) is False  # a later stop drains even if a pid came back
