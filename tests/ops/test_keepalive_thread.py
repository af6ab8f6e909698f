"""Against a real gunicorn with the shipped gunicorn.conf.py (aime/server/worker.py): a kept-alive connection's next
requests are served on the thread that answered the first when they come at once, each answered in order, whole and
once, whatever else the worker serves meanwhile; bad input still closes; a stop still drains."""
from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest

from aime.server.worker import OTHERS_QUIET_FOR
from tests.support.polling import poll
from tests.support.servers import Gunicorn, migrate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def start(root: Path, workers: int, **extra: str) -> Gunicorn:
    """gunicorn serving tests.support.echo_app with `workers` workers x 4 threads (as shipped otherwise)."""
    data = root / "data"
    data.mkdir()
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": "keepalive-token-0123456789abcdef0123",
           "AIME_WORKERS": str(workers), "AIME_THREADS": "4", "AIME_LOG_LEVEL": "warning",
           "AIME_DISK_MIN_FREE_MB": "0", **extra}
    migrate(env)
    server = Gunicorn(env, root / "gunicorn.log", "tests.support.echo_app:app")
    for key in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_STARTUP_VALIDATED", "AIME_STARTED_AT"):
        server.env.pop(key, None)
    server.start(wait_path="/up")
    poll(lambda: len(workers_of(server)) == workers, what="all workers up")
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """2 workers x 4 threads, as shipped."""
    gunicorn = start(tmp_path_factory.mktemp("keepalive"), 2)
    yield gunicorn
    gunicorn.stop()


def workers_of(server) -> list[int]:
    with open(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children", encoding="ascii") as handle:
        return [int(pid) for pid in handle.read().split()]


class Connection:
    """One kept-alive HTTP/1.1 connection read by hand: answers are taken one at a time, as they were sent."""

    def __init__(self, server):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        self.buffer = b""

    def send(self, *requests: bytes) -> None:
        self.sock.sendall(b"".join(requests))

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(f"closed by the server; unread: {self.buffer!r}")
        self.buffer += data

    def answer(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        """(status, headers in lower case, body) of the next answer."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}
        if head_only or status == 304:
            return status, headers, b""
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(self.buffer) < length:
                self._fill()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            return status, headers, body
        body = b""
        while True:  # chunked
            while b"\r\n" not in self.buffer:
                self._fill()
            size_line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(size_line, 16)
            while len(self.buffer) < size + 2:
                self._fill()
            body, self.buffer = body + self.buffer[:size], self.buffer[size + 2:]
            if size == 0:
                return status, headers, body

    def closed_by_server(self) -> bool:
        """True when the server closed its end (after whatever was still to read)."""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return True
            self.buffer += data

    def close(self) -> None:
        self.sock.close()


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: aime\r\n{extra}\r\n".encode()


def echoed(method: str, path: str, body: int = 0) -> bytes:
    return json.dumps({"method": method, "path": path, "body": body}).encode()


def test_requests_on_one_kept_alive_connection_are_answered_in_order_whole_and_once(server):
    conn = Connection(server)
    try:
        for i in range(10):
            conn.send(get(f"/a?i={i}"))
            status, headers, body = conn.answer()
            assert (status, headers["connection"], body) == (200, "keep-alive", echoed("GET", f"/a?i={i}"))
            conn.send(f"POST /b?i={i} HTTP/1.1\r\nHost: aime\r\nContent-Length: {i}\r\n\r\n".encode() + b"x" * i)
            assert conn.answer()[::2] == (200, echoed("POST", f"/b?i={i}", i))
            conn.send(f"HEAD /c?i={i} HTTP/1.1\r\nHost: aime\r\n\r\n".encode())
            status, headers, _ = conn.answer(head_only=True)
            assert (status, headers["content-length"]) == (200, str(len(echoed("HEAD", f"/c?i={i}"))))
            conn.send(get("/not-modified"))
            status, headers, body = conn.answer()
            assert (status, headers["etag"], body) == (304, '"v1"', b"")
            conn.send(get(f"/stream?i={i}"))
            status, headers, body = conn.answer()
            assert (status, headers["transfer-encoding"], body) == (200, "chunked", echoed("GET", f"/stream?i={i}"))
        conn.sock.settimeout(0.2)
        with pytest.raises(TimeoutError):  # nothing more than what was asked (no answer twice, no stray bytes)
            conn.closed_by_server()
        assert conn.buffer == b""
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    conn = Connection(server)
    try:
        conn.send(get("/p?n=1"), b"POST /p?n=2 HTTP/1.1\r\nHost: aime\r\nContent-Length: 3\r\n\r\nabc", get("/p?n=3"),
                  get("/stream?n=4"))
        answers = [conn.answer() for _ in range(4)]
        assert [(status, body) for status, _headers, body in answers] == [
            (200, echoed("GET", "/p?n=1")), (200, echoed("POST", "/p?n=2", 3)), (200, echoed("GET", "/p?n=3")),
            (200, echoed("GET", "/stream?n=4"))]
    finally:
        conn.close()


def test_eight_kept_alive_connections_on_two_workers_of_four_threads_all_get_every_answer(server):
    # Each connection asks again as soon as it has its answer; none may starve behind another's thread.
    conns = [Connection(server) for _ in range(8)]
    try:
        for round_ in range(40):
            for n, conn in enumerate(conns):
                conn.send(get(f"/c{n}?r={round_}"))
            for n, conn in enumerate(conns):
                assert conn.answer()[::2] == (200, echoed("GET", f"/c{n}?r={round_}"))
        for n, conn in enumerate(conns):  # and again, one connection at a time, while the others wait idle
            for round_ in range(5):
                conn.send(get(f"/d{n}?r={round_}"))
                assert conn.answer()[::2] == (200, echoed("GET", f"/d{n}?r={round_}"))
    finally:
        for conn in conns:
            conn.close()


def test_a_malformed_second_request_is_answered_400_and_the_connection_closed(server):
    conn = Connection(server)
    try:
        conn.send(get("/first"))
        assert conn.answer()[::2] == (200, echoed("GET", "/first"))
        conn.send(b"GET /second HTTP/1.1\r\nHost: aime\r\nContent-Length: nope\r\n\r\n")
        status, _headers, _body = conn.answer()
        assert status == 400
        assert conn.closed_by_server()
    finally:
        conn.close()


def test_a_stop_closes_an_idle_kept_alive_connection_and_exits_0(tmp_path):
    server = start(tmp_path, 1, AIME_GRACEFUL_TIMEOUT="30")
    conn = Connection(server)
    try:
        for i in range(3):
            conn.send(get(f"/s?i={i}"))
            assert conn.answer()[::2] == (200, echoed("GET", f"/s?i={i}"))
        server.signal(signal.SIGTERM)
        assert conn.closed_by_server()  # within the stop's linger, not the 75 s keep-alive
        assert conn.buffer == b""
        assert server.proc.wait(timeout=25) == 0  # no thread kept serving past the stop
    finally:
        conn.close()
        server.stop()


def main_thread_wakes(server) -> int:
    """Times the workers' main threads (gthread's poller) slept and were woken, summed over the workers."""
    total = 0
    for pid in workers_of(server):
        with open(f"/proc/{pid}/task/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("voluntary_ctxt_switches"):
                    total += int(line.split()[1])
    return total


def ask_in_turn(conns, rounds: int) -> int:
    """Each connection asks once per round, one request at a time; the main threads' wake-ups meanwhile."""
    server = conns[0][0]
    # A request on another connection (the start-up wait's, an earlier test's) counts as another client for
    # OTHERS_QUIET_FOR seconds after it: a window of the server's, with no state to poll.
    time.sleep(2 * OTHERS_QUIET_FOR)
    before = main_thread_wakes(server)
    for round_ in range(rounds):
        for n, (_server, conn) in enumerate(conns):
            conn.send(get(f"/t{n}?r={round_}"))
            assert conn.answer()[::2] == (200, echoed("GET", f"/t{n}?r={round_}"))
    return main_thread_wakes(server) - before


def test_one_clients_requests_in_a_row_mostly_skip_the_poller(server):
    # Served on the thread that answered the previous one (up to 4 in a row), a request does not wake the worker's
    # main thread twice (gthread's poller, then its finish_request through a pipe): 363-606 wake-ups for 300 requests
    # without it, 116-176 with it (docs/benchmarks.md, r18-keep).
    conn = Connection(server)
    try:
        conn.send(get("/warm"))
        conn.answer()
        assert ask_in_turn([(server, conn)], 300) < 250
    finally:
        conn.close()


def test_clients_taking_turns_on_one_worker_each_go_through_the_poller(tmp_path):
    # Two clients, each asking as soon as the other has its answer: neither connection is kept on a thread (the
    # other was taken up less than 0.1 s before), so every request is handed out by the poller as in gthread.
    server = start(tmp_path, 1)
    conns = [(server, Connection(server)) for _ in range(2)]
    try:
        for _server, conn in conns:
            conn.send(get("/warm"))
            conn.answer()
        assert ask_in_turn(conns, 150) >= 240
    finally:
        for _server, conn in conns:
            conn.close()
        server.stop()


def test_a_next_request_trickled_on_a_kept_connection_is_cut_off_within_its_budget(tmp_path):
    # The thread that answered the first request reads the second (it starts within the 10 ms wait), with a fresh
    # budget of AIME_TIMEOUT (2 s here) plus 1 s per 500 bytes: one byte every 0.2 s runs out after about 2 s.
    server = start(tmp_path, 1, AIME_TIMEOUT="2")
    slow, other = Connection(server), Connection(server)
    try:
        slow.send(get("/first"))
        assert slow.answer()[::2] == (200, echoed("GET", "/first"))
        started = time.monotonic()
        slow.send(b"G")
        slow.sock.settimeout(0.2)
        closed = False
        while not closed and time.monotonic() - started < 10:
            try:
                closed = slow.sock.recv(65536) == b""
            except TimeoutError:
                slow.send(b"E")
        assert closed and 1.5 < time.monotonic() - started < 5
        other.send(get("/meanwhile"))  # the worker still serves everyone else
        assert other.answer()[::2] == (200, echoed("GET", "/meanwhile"))
    finally:
        slow.close()
        other.close()
        server.stop()
