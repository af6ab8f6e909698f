"""The browser tests' werkzeug server leaves no file open when a client resets its connection."""
from __future__ import annotations

import socket
import struct
import threading
import warnings

from tests.support.polling import poll
from tests.web.conftest import LiveServer


def _get_then_reset(port: int, path: str, end: bytes) -> bytes:
    """GET path, read the answer up to `end`, then close with a reset (SO_LINGER 0), as a cancelling browser."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = b""
        while end not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return answer


def test_a_static_file_is_closed_when_the_client_resets_right_after_the_answer(make_app):
    server = LiveServer(make_app())
    server.thread.start()
    try:
        idle = threading.active_count()
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            for _ in range(3):  # the reset must come within werkzeug's 10 ms drain of the socket: it nearly always does
                answer = _get_then_reset(server.server.server_port, "/static/web/favicon.svg", b"</svg>")
                assert answer.startswith(b"HTTP/1.1 200") and b"</svg>" in answer
                poll(lambda: threading.active_count() <= idle, 10, "the request's thread done")
        assert [str(warning.message) for warning in seen if issubclass(warning.category, ResourceWarning)] == []
    finally:
        server.server.shutdown()
        server.thread.join(10)
