"""aime.server.worker.PacedSocket over a real TCP connection: slow clients are cut, fair ones are not."""
from __future__ import annotations

import io
import socket
import threading
import time

import pytest

from aime.server.worker import ClientTooSlow, PacedSocket

pytestmark = pytest.mark.resilience
GRACE, MIN_RATE = 0.5, 1000  # 0.5 s of waiting, plus 1 s per 1,000 bytes


@pytest.fixture
def pair():
    """A TCP connection over loopback, like gunicorn's: (the server side paced, the client side)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    yield PacedSocket(server, GRACE, MIN_RATE), client
    server.close()
    client.close()


def send_in_steps(client: socket.socket, step: bytes, times: int, pause: float) -> threading.Thread:
    """A client sending `step` `times` times, `pause` seconds apart, until done or cut off."""
    def run():
        try:
            for _ in range(times):
                client.sendall(step)
                time.sleep(pause)
        except OSError:
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def read_all(paced: PacedSocket, expected: int) -> bytes:
    data = b""
    while len(data) < expected:
        data += paced.recv(65536)
    return data


def test_a_steady_client_slower_than_the_grace_is_read_to_the_end(pair):
    paced, client = pair
    # 8 x 500 bytes, 0.2 s apart: 1.4 s in all (far past the 0.5 s grace) at ~2,800 B/s, above the minimum.
    send_in_steps(client, b"x" * 500, 8, 0.2)
    assert read_all(paced, 4000) == b"x" * 4000


def test_a_trickling_client_is_cut_off(pair):
    paced, client = pair
    sender = send_in_steps(client, b"x", 100, 0.05)  # 20 B/s: would take 5 s
    received = 0
    with pytest.raises(ClientTooSlow) as caught:
        while True:
            received += len(paced.recv(65536))
    assert received < 100  # cut while the client was still trickling
    assert caught.value.status == 408
    client.close()
    sender.join(5)


def test_a_silent_client_is_cut_off_after_the_grace(pair):
    paced, _ = pair
    with pytest.raises(ClientTooSlow):
        paced.recv(1024)


def test_a_client_that_goes_silent_is_cut_off_after_the_grace_whatever_its_credit(pair):
    paced, client = pair
    client.sendall(b"x" * 10000)  # 10 s of credit at 1,000 B/s
    assert read_all(paced, 10000) == b"x" * 10000
    with pytest.raises(ClientTooSlow):
        paced.recv(1024)


def test_time_the_application_spends_working_is_not_the_clients(pair):
    paced, client = pair
    client.sendall(b"a" * 10)
    assert paced.recv(10) == b"a" * 10
    time.sleep(GRACE + 0.2)  # the application works longer than the grace; the client's data is waiting
    client.sendall(b"b" * 10)
    assert paced.recv(10) == b"b" * 10


def test_each_request_gets_a_fresh_budget(pair):
    paced, client = pair
    with pytest.raises(ClientTooSlow):
        paced.recv(1024)
    paced.new_request()
    client.sendall(b"GET / HTTP/1.1\r\n")
    assert paced.recv(1024) == b"GET / HTTP/1.1\r\n"


def test_a_callers_own_shorter_timeout_stays_a_plain_timeout(pair):
    paced, _ = pair
    paced.settimeout(0.05)
    assert paced.gettimeout() == 0.05
    with pytest.raises(TimeoutError) as caught:
        paced.recv(1024)
    assert not isinstance(caught.value, ClientTooSlow)


def test_after_a_half_close_reads_are_no_longer_paced(pair):
    # gunicorn's graceful close (util.close_graceful) shuts down writing, then drains under its own timeout.
    paced, client = pair
    paced.shutdown(socket.SHUT_WR)
    paced.settimeout(5)
    threading.Timer(GRACE + 0.2, client.sendall, [b"late"]).start()  # later than a paced read may wait
    assert paced.recv(1024) == b"late"


def test_a_client_cut_off_gets_no_lingering_close(pair):
    # That drain runs on gunicorn's main loop: a client already found too slow must not hold it.
    paced, client = pair
    with pytest.raises(ClientTooSlow):
        paced.recv(1024)
    paced.shutdown(socket.SHUT_WR)
    paced.settimeout(5)
    client.sendall(b"more")
    assert paced.recv(1024) == b""


def reader(client: socket.socket, chunk: int, pause: float, into: bytearray) -> threading.Thread:
    """A client reading `chunk` bytes every `pause` seconds until the server closes."""
    def run():
        while True:
            try:
                data = client.recv(chunk)
            except OSError:
                return
            if not data:
                return
            into.extend(data)
            time.sleep(pause)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_response_to_a_fair_reader_is_written_to_the_end(pair):
    paced, client = pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # small buffers: the reader sets the pace
    paced.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    got = bytearray()
    thread = reader(client, 65536, 0.04, got)
    payload = bytes(range(256)) * 4096  # 1 MiB
    started = time.monotonic()
    paced.sendall(payload)
    writing = time.monotonic() - started
    paced.shutdown(socket.SHUT_WR)
    thread.join(30)
    assert bytes(got) == payload
    assert writing > GRACE  # the premise: the whole response took longer than a single wait may


def test_sendfile_is_paced_and_complete(pair):
    paced, client = pair
    got = bytearray()
    thread = reader(client, 65536, 0.0, got)
    payload = b"0123456789" * 20000
    assert paced.sendfile(io.BytesIO(payload), offset=10, count=150000) == 150000
    paced.shutdown(socket.SHUT_WR)
    thread.join(30)
    assert bytes(got) == payload[10:150010]


def test_a_client_that_stops_reading_ends_the_response_as_a_broken_pipe(pair):
    paced, client = pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    with pytest.raises(BrokenPipeError):
        paced.sendall(b"x" * (64 * 1024 * 1024))  # far more than the socket buffers hold


class RecordingSocket:
    """Stands in for a socket: records every send and every timeout change, so a test sees the system calls."""

    def __init__(self, timeout=None):
        self.timeout, self.calls, self.sent = timeout, [], []

    def gettimeout(self):
        return self.timeout

    def settimeout(self, value):
        self.calls.append(("settimeout", value))
        self.timeout = value

    def setblocking(self, flag):
        self.calls.append(("setblocking", flag))
        self.timeout = None if flag else 0.0

    def send(self, data, flags=0):
        self.calls.append(("send", bytes(data)))
        return len(data)

    def recv(self, size, flags=0):
        self.calls.append(("recv", size))
        return b"next"

    def shutdown(self, how):
        self.calls.append(("shutdown", how))


def test_a_held_head_goes_out_with_the_body_in_one_send():
    sock = RecordingSocket(timeout=GRACE)
    paced = PacedSocket(sock, GRACE, MIN_RATE)
    paced.hold_next_send()
    paced.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
    assert sock.calls == []
    paced.sendall(b"ok")
    paced.sendall(b"more")  # only the next send is held
    paced.flush_held()  # nothing held any more: nothing sent
    assert sock.calls == [("send", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), ("send", b"more")]


def test_a_held_head_without_a_body_goes_out_when_flushed_before_a_read_or_a_close():
    for finish, expected in [(lambda paced: paced.flush_held(), []),
                             (lambda paced: paced.recv(10), [("recv", 10)]),
                             (lambda paced: paced.shutdown(socket.SHUT_WR), [("shutdown", socket.SHUT_WR)])]:
        sock = RecordingSocket(timeout=GRACE)
        paced = PacedSocket(sock, GRACE, MIN_RATE)
        paced.hold_next_send()
        paced.sendall(b"HTTP/1.1 304 Not Modified\r\n\r\n")
        finish(paced)
        assert sock.calls == [("send", b"HTTP/1.1 304 Not Modified\r\n\r\n"), *expected]


def test_a_flush_without_anything_held_stops_holding():
    sock = RecordingSocket(timeout=GRACE)
    paced = PacedSocket(sock, GRACE, MIN_RATE)
    paced.hold_next_send()
    paced.flush_held()  # the application failed before answering: its error page must not be held
    paced.sendall(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    assert sock.calls == [("send", b"HTTP/1.1 500 Internal Server Error\r\n\r\n")]


def test_timeouts_set_and_put_back_around_a_request_cost_no_system_call():
    # gunicorn flips blocking on and off around its poller and bounds each body drain with a timeout it then
    # puts back: the socket is only told when a read or a write needs a different wait than the one it has.
    sock = RecordingSocket(timeout=0.0)  # as gthread leaves a kept-alive connection for its poller
    paced = PacedSocket(sock, GRACE, MIN_RATE)
    paced.setblocking(True)
    assert paced.recv(10) == b"next"
    for _ in range(3):
        paced.settimeout(5.0)
        paced.settimeout(None)
        paced.setblocking(False)
        paced.setblocking(True)
        assert paced.recv(10) == b"next"
    paced.settimeout(0.05)  # shorter than the grace: applied at the next read
    assert paced.gettimeout() == 0.05
    assert paced.recv(10) == b"next"
    assert sock.calls == [("settimeout", GRACE), ("recv", 10), ("recv", 10), ("recv", 10), ("recv", 10),
                          ("settimeout", 0.05), ("recv", 10)]
