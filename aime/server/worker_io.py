"""Parts of AIME's gunicorn worker (aime/server/worker.py): request bodies read before the application, listeners
handed over without dropping a connection.

Bodies: a client sending its body slowly holds the thread that reads it. The worker reads a request's head
and (up to AIME_MAX_BODY_MB of) its body on one of many cheap I/O threads, and only then takes one of the
AIME_THREADS application slots, so trickling clients cannot starve the probes or anyone else.

Same thread: a kept-alive connection's next request is served by the thread that answered the previous one, instead of
going back to gthread's poller (two thread hand-offs and a pipe write on the worker's main thread per request), only
while the connection is the worker's only activity (Activity.alone) and the request comes at once (readable_within).

Listeners: a stopping gthread worker stops accept()ing but keeps its listening socket open until its last
request is done; a connection arriving meanwhile waits in the kernel's accept queue and is reset when the
socket closes. The stopping worker instead takes everything already queued and closes its listener at once,
with no moment in between where Python could switch threads (see take_queue_and_close).
"""
from __future__ import annotations

import ctypes
import errno
import select
import socket
import sys
import tempfile
import threading
import time

SPOOL_IN_MEMORY = 64 * 1024  # beyond this a prefetched body goes to a temporary file
_STEP = 64 * 1024


class PrefetchedReader:
    """A gunicorn body reader that serves the bytes read ahead, then the rest from the original reader.

    An error met while reading ahead (a client too slow, a disconnect, a malformed chunk) is raised where
    the application reads past the prefetched bytes, as it would have been without the read-ahead.
    """

    def __init__(self, spool, rest, error: BaseException | None):
        self.spool, self.rest, self.error = spool, rest, error

    def read(self, size: int) -> bytes:
        data = self.spool.read(size)
        if data:
            return data
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.rest.read(size)


def prefetch_body(req, sock, limit: int) -> None:
    """Read up to `limit` bytes of req's body now (on the I/O thread), keeping them for the application."""
    body = getattr(req, "body", None)
    reader = getattr(body, "reader", None)
    if reader is None or limit <= 0:
        return
    length, chunked = _declared_body(req)
    if length is None and not chunked:
        return  # neither Content-Length nor Transfer-Encoding: no body (RFC 9112, 6.3), nothing to spool
    wanted = limit if length is None else min(length, limit)
    if wanted <= 0:
        return
    if getattr(req, "_expected_100_continue", False):
        # The client waits for this before it sends the body; gunicorn would send it only when the
        # application starts, after this read-ahead: send it now, once.
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        req._expected_100_continue = False
    # Not a `with`: the spool outlives this function, handed to the request as its body reader.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    error = None
    try:
        read = 0
        while read < wanted:
            data = reader.read(min(_STEP, wanted - read))
            if not data:
                break
            spool.write(data)
            read += len(data)
    except Exception as problem:  # re-raised where the application reads it (see PrefetchedReader)
        error = problem
    spool.seek(0)
    body.reader = PrefetchedReader(spool, reader, error)


def _declared_body(req) -> tuple[int | None, bool]:
    """The request's Content-Length (None when absent or not a number) and whether it has a Transfer-Encoding."""
    length, chunked = None, False
    for name, value in req.headers:
        if name == "CONTENT-LENGTH":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == "TRANSFER-ENCODING":
            chunked = True
    return length, chunked


class Activity:
    """Which connections a worker's threads took up, and when: is one connection the only one being served?

    "Alone" is exact: no other thread is in the middle of a connection, and no other connection was taken up by a
    thread in the last `quiet` seconds. The second part matters under several clients: between two of their requests
    the other connections sit in gthread's poller, so "no other thread busy" alone is true most of the time there.
    """

    def __init__(self, quiet: float):
        self.quiet = quiet
        self._lock = threading.Lock()
        self._busy = 0  # threads between take_up and release
        self._last, self._last_at = None, float("-inf")  # the connection taken up last, and when
        self._other_at = float("-inf")  # the last take-up of any connection but self._last

    def take_up(self, conn) -> None:
        """A thread starts serving conn."""
        now = time.monotonic()
        with self._lock:
            self._busy += 1
            if conn is not self._last:
                self._other_at, self._last = self._last_at, conn
            self._last_at = now

    def release(self) -> None:
        """A thread is done with the connection it took up."""
        with self._lock:
            self._busy -= 1

    def alone(self, conn) -> bool:
        """True when conn's thread is the only busy one and no other connection was taken up within `quiet` s."""
        with self._lock:
            if self._busy != 1:
                return False
            other_at = self._other_at if conn is self._last else self._last_at
        return time.monotonic() - other_at > self.quiet


def readable_within(sock, seconds: float) -> bool:
    """True when sock has something to read (or is closed) within `seconds`."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(seconds * 1000))


_SOCK_CLOEXEC = getattr(socket, "SOCK_CLOEXEC", 0o2000000)


def _libc():
    # PyDLL, not CDLL: its calls keep the GIL, so no other Python thread runs between the last accept and
    # the close below (with CDLL, or socket.accept, the GIL is released around each call and a busy request
    # thread could hold it for the whole switch interval while connections queue up to be reset).
    try:
        libc = ctypes.PyDLL(None, use_errno=True)
        accept4, close = libc.accept4, libc.close
    except (OSError, AttributeError):
        return None
    accept4.argtypes, accept4.restype = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int], ctypes.c_int
    close.argtypes, close.restype = [ctypes.c_int], ctypes.c_int
    return accept4, close


def take_queue_and_close(listeners) -> list[tuple[socket.socket, object, object]]:
    """Accept every connection queued on each listener, then close it: [(client socket, address, server)].

    Once closed here (and in the master, which closes its copy before it signals a stop), a new connection
    is refused at once by the kernel; on a reload the master and the new workers keep the socket open and
    take the new connections. Listeners that are not plain sockets are closed the ordinary way.
    """
    calls = _libc()
    taken = []
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # the accept loop and the close happen in one stretch of this thread
    try:
        for listener in listeners:
            server = listener.getsockname()
            if calls is None:
                listener.close()
                continue
            accept4, close = calls
            fd = listener.sock.detach()  # ours now: the socket object will not close this number again
            fds = []
            while True:
                client = accept4(fd, None, None, _SOCK_CLOEXEC)
                if client >= 0:
                    fds.append(client)
                elif ctypes.get_errno() not in (errno.ECONNABORTED, errno.EINTR):
                    break  # EAGAIN: the queue is empty (the listener is non-blocking)
            close(fd)
            taken.extend((fd_client, server) for fd_client in fds)
    finally:
        sys.setswitchinterval(previous)
    result = []
    for client, server in taken:
        sock = socket.socket(fileno=client)
        try:
            address = sock.getpeername()
        except OSError as error:  # already gone: nothing to serve
            if error.errno != errno.ENOTCONN:
                raise
            sock.close()
            continue
        result.append((sock, address, server))
    return result
