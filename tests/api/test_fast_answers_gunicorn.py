"""Kept answers served before Flask's dispatch, under the shipped gunicorn: on one kept-alive connection (one worker)
the first kept answer is Flask's and the next ones are served early (tests/api/test_fast_answers.py shows when); all
of them are the same bytes but the Date, each is counted once in /health, and each has the same access line."""
from __future__ import annotations

import json
import re
import socket

import pytest
import requests

from tests.conftest import TEST_TOKEN  # the database_url fixture: tests/conftest.py
from tests.support.servers import gunicorn

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
REQUEST_ID = "fast-answers.gunicorn:1"
ASKED = 6
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _answer(sock: socket.socket, buffer: bytes) -> tuple[bytes, bytes, bytes]:
    """(head, body, what is left) of the next answer on sock, read as sent."""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"\r\nContent-Length: (\d+)", head).group(1))
    while len(buffer) < length:
        buffer += sock.recv(65536)
    return head, buffer[:length], buffer[length:]


def test_a_kept_answer_is_the_same_bytes_counts_and_line_whoever_serves_it(tmp_path, database_url):
    env = {"AIME_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url, "AIME_API_TOKEN": TEST_TOKEN,
           "AIME_WORKERS": "2", "AIME_THREADS": "2", "AIME_LOG_LEVEL": "info"}
    (tmp_path / "data").mkdir()
    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        body = {"title": "Homogenic", "artists": ["Björk"], "tracks": [{"title": "Hunter"}]}
        album = requests.post(server.url("/api/v1/collection/albums"), json=body, headers=AUTH, timeout=10).json()
        path = f"/api/v1/collection/albums/{album['id']}"
        before = requests.get(server.url("/health"), headers=AUTH, timeout=10).json()["requests"]
        request = (f"GET {path} HTTP/1.1\r\nHost: aime\r\nX-Request-ID: {REQUEST_ID}\r\n\r\n").encode()
        answers, buffer = [], b""
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            for _ in range(ASKED):
                sock.sendall(request)
                head, content, buffer = _answer(sock, buffer)
                answers.append((re.sub(rb"\r\nDate: [^\r]*", b"", head), content))
        after = requests.get(server.url("/health"), headers=AUTH, timeout=10).json()["requests"]
        log = server.log_text()
    assert answers[0][1] == answers[1][1] and json.loads(answers[0][1])["title"] == "Homogenic"
    assert len(set(answers[1:])) == 1  # Flask's kept answer, then the early ones: the same bytes
    assert answers[1][0].split(b"\r\n") == [
        b"HTTP/1.1 200 OK", b"Server: gunicorn", b"Connection: keep-alive", b"Content-Type: application/json",
        f"Content-Length: {len(answers[1][1])}".encode(), answers[1][0].split(b"\r\n")[5],
        b"Cache-Control: private, no-cache", f"X-Request-ID: {REQUEST_ID}".encode(),
        b"X-Content-Type-Options: nosniff"]
    assert answers[1][0].split(b"\r\n")[5].startswith(b"ETag: ")
    assert after - before == ASKED  # each counted once (probes are not)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{") and REQUEST_ID in line]
    assert [{name: value for name, value in line.items() if name not in ("timestamp", "duration_ms")}
            for line in lines] == [{"level": "INFO", "logger": "aime.access", "message": f"GET {path} 200",
                                    "status": 200, "request_id": REQUEST_ID, "method": "GET", "path": path}] * ASKED
    assert len({tuple(line) for line in lines}) == 1  # the same fields in the same order
