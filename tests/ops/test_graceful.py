"""Gunicorn's lifecycle under load, with the shipped gunicorn.conf.py: SIGTERM drains, SIGHUP reloads."""
from __future__ import annotations

import http.client
import signal
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

    def __enter__(self) -> "Arrivals":
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


def test_sigterm_drains_50_in_flight_requests_while_more_arrive(slow_server):
    server = slow_server(AIME_WORKERS="2", AIME_THREADS="25", AIME_GRACEFUL_TIMEOUT="15")
    data_dir = server.env["AIME_DATA_DIR"]
    plan = [(f"t{i}", 2 if i % 2 else 4) for i in range(50)]  # 25 requests of 2 s, 25 of 4 s
    arrivals_urls = [server.url("/api/v1/collection/albums"), server.url("/live"), server.url("/slow?seconds=0.2")]

    with ThreadPoolExecutor(max_workers=50) as pool, Arrivals(arrivals_urls) as arrivals:
        futures = {tag: pool.submit(fetch, server.url(f"/slow?seconds={s}&tag={tag}")) for tag, s in plan}
        poll(lambda: started(data_dir) == 50, 30, "all 50 slow requests in flight")
        poll(lambda: arrivals.total() >= 10, 30, "some arrivals answered before the stop")
        arrivals.cutoff = time.monotonic()
        server.signal(signal.SIGTERM)
        exit_code = server.proc.wait(timeout=15)  # must exit before the graceful timeout
        results = {tag: future.result() for tag, future in futures.items()}

    assert exit_code == 0
    for tag, seconds in plan:
        kind, response = results[tag]
        assert kind == "200", (tag, kind)
        assert response.json() == {"slept": seconds, "tag": tag, "pid": response.json()["pid"]}
    # Everything sent before the signal was answered normally: no reset, no 5xx.
    assert set(arrivals.before) == {"200"} and arrivals.before["200"] >= 10, dict(arrivals.before)
    # New connections after the signal are answered (200) or refused; never a 5xx. A connection the
    # kernel queued in the listen backlog in the instant before the last worker closed the socket is
    # reset without ever reaching gunicorn: that is why traffic is drained first (/ready -> 503 and the
    # load balancer or Kubernetes stop sending), see docs/deploy.md. Only those may be resets.
    after = dict(arrivals.outcomes - arrivals.before)
    assert set(after) <= {"200", "refused", "reset"}, after
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
