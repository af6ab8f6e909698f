"""Against a real gunicorn (2 workers x 4 threads, as shipped): keep-alive connections opened at once are spread over
the workers, not all taken by the first one awake (aime/server/worker.py, ThreadWorker.accept)."""
from __future__ import annotations

import os
import socket

import pytest

from tests.support.polling import poll
from tests.support.servers import Gunicorn, migrate

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WORKERS, THREADS, CONNECTIONS = 2, 4, 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One gunicorn (2 workers x 4 threads) on a migrated SQLite database."""
    root = tmp_path_factory.mktemp("accept-balance")
    data = root / "data"
    data.mkdir()
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": "balance-token-0123456789abcdef0123",
           "AIME_WORKERS": str(WORKERS), "AIME_THREADS": str(THREADS), "AIME_LOG_LEVEL": "warning",
           "AIME_DISK_MIN_FREE_MB": "0",
           # Longer than the shipped 20 ms: on a loaded test machine the other worker may wait that long for a core.
           "AIME_ACCEPT_PAUSE_MS": "300",
           # Idle connections (the start-up wait's) closed after 1 s: each burst starts with none held.
           "AIME_KEEPALIVE": "1"}
    migrate(env)
    gunicorn = Gunicorn(env, root / "gunicorn.log")
    for key in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_STARTUP_VALIDATED", "AIME_STARTED_AT"):
        gunicorn.env.pop(key, None)
    gunicorn.start()
    poll(lambda: len(_workers(gunicorn)) == WORKERS, what="all workers up")
    yield gunicorn
    gunicorn.stop()


def _workers(server) -> list[int]:
    with open(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children", encoding="ascii") as handle:
        return [int(pid) for pid in handle.read().split()]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _server_side_inodes(port: int, client_ports: set[int]) -> set[str]:
    """Inodes of the server's ends (local port `port`) of the connections from `client_ports`."""
    inodes = set()
    with open("/proc/net/tcp", encoding="ascii") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, inode = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16), fields[9]
            if local == port and remote in client_ports:
                inodes.add(inode)
    return inodes


def _answer(sock: socket.socket) -> bytes:
    """One response to GET /live (Content-Length bounded)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0]


def _server_connections(server) -> int:
    """Connections the workers still hold (established, or closed by the client and not yet by the worker)."""
    held = set().union(*(_socket_inodes(pid) for pid in _workers(server)))
    with open("/proc/net/tcp", encoding="ascii") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[9] in held and int(row[1].split(":")[1], 16) == server.port
               and row[3] in ("01", "08"))


def _held_per_worker(server) -> list[int]:
    """Open 8 keep-alive connections at once (as wrk -c8 does), make a request on each, then count how many of them
    each worker holds."""
    # The previous burst's connections are gone from the workers too (as between two wrk runs).
    poll(lambda: _server_connections(server) == 0, what="the previous connections closed")
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(CONNECTIONS)]
    try:
        for sock in clients:
            sock.sendall(b"GET /live HTTP/1.1\r\nHost: aime\r\n\r\n")
        assert [_answer(sock) for sock in clients] == [b"HTTP/1.1 200 OK"] * CONNECTIONS
        ours = _server_side_inodes(server.port, {sock.getsockname()[1] for sock in clients})
        assert len(ours) == CONNECTIONS
        return sorted(len(_socket_inodes(pid) & ours) for pid in _workers(server))
    finally:
        for sock in clients:
            sock.close()


def test_connections_opened_at_once_are_spread_over_the_workers(server):
    # Five bursts: before the change, the first worker awake took 5-8 of the 8 in most of them.
    assert [_held_per_worker(server) for _ in range(5)] == [[THREADS, THREADS]] * 5
