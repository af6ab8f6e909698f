"""The gunicorn worker AIME runs: gthread, plus a minimum pace for slow clients.

gthread gives each request a thread and reads the request from a blocking socket. A client that
trickles its request (one byte every few seconds) would hold that thread for as long as it likes:
gunicorn's `timeout` is only the worker's heartbeat. A fixed read deadline is no answer either, as it
would cut a legitimate large upload on a slow line. So, like Apache's mod_reqtimeout, each request gets
a budget of waiting time: `AIME_TIMEOUT` seconds, plus one second for every `AIME_CLIENT_MIN_RATE`
bytes the client has sent, and no single wait longer than `AIME_TIMEOUT`. Reading and writing have a
budget each; only the time spent waiting on the socket counts, never the time the application works.

A response's head goes out in one send with its body (PacedSocket.hold_next_send), and the timeouts gunicorn sets
around every request are applied only when a read or a write needs them (PacedSocket._apply).

A kept-alive connection's next request is served on the same thread when the connection is the worker's only
activity and the request comes within KEEP_SERVING_WAIT, at most KEEP_SERVING_REQUESTS in a row (ThreadWorker.handle).
"""
from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from concurrent import futures

from gunicorn.workers.gthread import TConn, ThreadWorker as GthreadWorker

from aime.body_limits import body_limit
from aime.config import Config
from aime.errors import RequestTimeout
from aime.server.worker_io import Activity, prefetch_body, readable_within, take_queue_and_close

log = logging.getLogger(__name__)

# Same-thread serving (docs/benchmarks.md, "r18-floor2" item 4 and "r18-keep"). The wait is short: a client that
# asks at once (a script, a page's next fetch) is served here, anyone slower goes back to gthread's poller. A few in
# a row only: on a busy machine one thread doing all the work of a connection lost its share of the CPU.
KEEP_SERVING_WAIT = 0.010
KEEP_SERVING_REQUESTS = 4
# Another connection taken up within this long means several clients: each goes through the poller, as in gthread.
OTHERS_QUIET_FOR = 0.1


class ClientTooSlow(RequestTimeout):
    """The client used up its waiting budget; raised from a socket read (a 408 if the app is reading)."""


class _Budget:
    """Seconds of waiting allowed: `grace` plus one second per `min_rate` bytes moved."""

    def __init__(self, grace: float, min_rate: int):
        self.grace, self.min_rate = grace, min_rate
        self.moved, self.waited = 0, 0.0

    def remaining(self) -> float:
        return self.grace + self.moved / self.min_rate - self.waited


class PacedSocket:
    """A socket whose reads and writes stop with ClientTooSlow once the request's budget is spent.

    Everything else (fileno, close, shutdown, ...) is the wrapped socket's. The timeout a caller sets
    (gunicorn bounds its body drain with one) is kept and honoured alongside the budget.
    """

    def __init__(self, sock: socket.socket, grace: float, min_rate: int):
        self._sock = sock
        self._grace, self._min_rate = grace, min_rate
        self._timeout = self._applied = sock.gettimeout()  # the caller's, and the one set on the socket
        self._closing = self._cut_off = False
        self._holding, self._held = False, None
        self.new_request()

    def new_request(self) -> None:
        """Start fresh budgets: each request on a kept-alive connection gets its own."""
        self._reading = _Budget(self._grace, self._min_rate)
        self._writing = _Budget(self._grace, self._min_rate)
        self.on_too_slow = None  # called when a read runs out of budget

    def __getattr__(self, name):
        return getattr(self._sock, name)

    # The caller's timeout is applied to the socket when a read or write needs it (_paced, or _apply for the
    # closing drain), not when it is set: gunicorn sets one and puts the old one back around every request (the
    # body drain) and flips blocking on and off around the poller, and each settimeout is a system call that
    # lets go of the GIL, which another busy thread then takes (the request waits to get it back).
    def settimeout(self, value: float | None) -> None:
        self._timeout = value

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def _apply(self, value: float | None) -> None:
        if value != self._applied:
            self._sock.settimeout(value)
            self._applied = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def hold_next_send(self) -> None:
        """Keep the next sendall's bytes (a response's head) to send them with the one after (its body): one
        system call and one segment for both. Whatever is held goes out before any read and at flush_held()."""
        self._holding = True

    def flush_held(self) -> None:
        """Send what hold_next_send kept, if anything, and stop holding."""
        self._holding = False
        if self._held is not None:
            data, self._held = self._held, None
            self.sendall(data)

    def shutdown(self, how: int) -> None:
        self.flush_held()
        # gunicorn half-closes, then drains what the client still sends (util.close_graceful, up to 2 s
        # on the worker's main loop) so that the client reads the whole answer before the close.
        self._closing = True
        self._sock.shutdown(how)

    def recv(self, size: int, flags: int = 0) -> bytes:
        if self._closing:
            # That drain is not paced: it has its own timeout. A client already cut off for being too slow
            # does not get it, though: it would hold the main loop, and everyone queued behind it, for 2 s.
            if self._cut_off:
                return b""
            self._apply(self._timeout)
            return self._sock.recv(size, flags)
        if self._held is not None:  # a reply the client may wait for before it sends more (100 Continue)
            self.flush_held()
        data = self._read(self._sock.recv, size, flags)
        self._reading.moved += len(data)
        return data

    def recv_into(self, buffer, size: int = 0, flags: int = 0) -> int:
        if self._held is not None:
            self.flush_held()
        count = self._read(self._sock.recv_into, buffer, size, flags)
        self._reading.moved += count
        return count

    def _read(self, operation, *args):
        try:
            return self._paced(self._reading, operation, *args)
        except ClientTooSlow:
            self._cut_off = True
            if self.on_too_slow is not None:
                self.on_too_slow()
            raise

    def send(self, data, flags: int = 0) -> int:
        try:
            count = self._paced(self._writing, self._sock.send, data, flags)
        except ClientTooSlow:
            # The response is under way, so there is nobody to tell: the connection is over, which
            # gunicorn handles quietly for a broken pipe.
            log.warning("stopped a response: the client read it too slowly")
            raise BrokenPipeError(errno.EPIPE, "the client read the response too slowly") from None
        self._writing.moved += count
        return count

    def sendall(self, data, flags: int = 0) -> None:
        # send() in a loop rather than the socket's sendall, whose timeout bounds the whole call: a large
        # response to a client reading at a fair pace must not be cut.
        if self._held is not None:
            data, self._held = self._held + bytes(data), None
        elif self._holding:
            self._holding, self._held = False, bytes(data)
            return
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view, flags):]

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        # Through sendall, so that a file download is paced like any other response.
        file.seek(offset)
        total = 0
        while count is None or total < count:
            chunk = file.read(65536 if count is None else min(65536, count - total))
            if not chunk:
                break
            self.sendall(chunk)
            total += len(chunk)
        return total

    def _paced(self, budget: _Budget, operation, *args):
        allowed = budget.remaining()
        if allowed <= 0:
            raise ClientTooSlow()
        # No single wait longer than the grace either, whatever credit the bytes so far earned: a client
        # that sent a lot quickly (or had the kernel's buffers fill) and then went silent is cut too.
        ours = min(allowed, self._grace)
        limit = ours if self._timeout is None else min(ours, self._timeout)
        self._apply(limit)  # usually the grace, unchanged: no system call
        started = time.monotonic()
        try:
            return operation(*args)
        except TimeoutError:
            if limit < ours:
                raise  # the caller's own timeout ran out first: its semantics, not ours
            raise ClientTooSlow() from None
        finally:
            budget.waited += time.monotonic() - started


class ThreadWorker(GthreadWorker):
    """gthread, with every plain-HTTP connection paced (see the module docstring), requests read on cheap
    I/O threads before one of the AIME_THREADS application slots is taken, and a stop that drops nothing
    (see aime/server/worker_io.py)."""

    def init_process(self):
        config = Config.from_env()
        self.min_rate = config.client_min_rate
        self.prefetch_limit = body_limit(config)
        self.io_threads = max(config.io_threads, self.cfg.threads)
        self.app_slots = threading.BoundedSemaphore(self.cfg.threads)
        self.listeners_handed_over = False
        self.accept_pause = config.accept_pause_ms / 1000
        self.accept_paused_until = 0.0
        self.resumed = False  # the pause just ended: a connection still queued is this worker's to take
        self.activity = Activity(OTHERS_QUIET_FOR)
        super().init_process()

    def get_thread_pool(self):
        """AIME_IO_THREADS threads carry connections; at most AIME_THREADS of them run the application."""
        return futures.ThreadPoolExecutor(max_workers=self.io_threads)

    def accept(self, listener):
        """Accept a connection, unless this worker already holds AIME_THREADS and another worker may take it.

        Every worker waits on the same listening socket and the first one awake takes what is queued: 8 keep-alive
        connections opened at once (wrk -c8, a browser's 6) often all went to one worker, which then served them on
        one core (under the GIL) while the others idled: half the throughput, for as long as the connections lasted
        (docs/benchmarks.md, "Seventh round"). A worker holding as many connections as it has application threads
        (kept-alive ones too: a client such as wrk sends its next request at once) now stops accepting for
        AIME_ACCEPT_PAUSE_MS (20); what is still queued when the pause ends is its own."""
        if self.accept_pause and self.cfg.workers > 1 and self.nr_conns >= self.cfg.threads and not self.resumed:
            self.accept_paused_until = time.monotonic() + self.accept_pause
            super().set_accept_enabled(False)
            return
        super().accept(listener)

    def wait_for_and_dispatch_events(self, timeout):
        """Wait for events as gthread does, but no longer than an accept pause lasts."""
        if self.accept_paused_until:
            timeout = min(timeout, max(0.0, self.accept_paused_until - time.monotonic()))
        try:
            super().wait_for_and_dispatch_events(timeout)
        finally:
            self.resumed = False  # one round of events to take what queued during the pause

    def set_accept_enabled(self, enabled):
        """Stop accepting; when the worker is stopping, take what is queued and close the listeners too."""
        if enabled and self.accept_paused_until:
            if time.monotonic() < self.accept_paused_until:
                return  # gthread's loop asks again at every round; the pause decides
            self.accept_paused_until, self.resumed = 0.0, True
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive and not self.listeners_handed_over:
            self.listeners_handed_over = True
            for sock, address, server in take_queue_and_close(self.sockets):
                self.nr_conns += 1
                self.enqueue_req(TConn(self.cfg, sock, address, server))

    def handle(self, conn):
        """Serve the request on `conn`, then its next ones while it is alone and they come at once (see the top)."""
        self.activity.take_up(conn)
        try:
            result = self.serve_one(conn)
            for _ in range(KEEP_SERVING_REQUESTS - 1):
                if result is not True or not self.next_request_here(conn):
                    break
                result = self.serve_one(conn)
            return result
        finally:
            self.activity.release()

    def next_request_here(self, conn) -> bool:
        """Whether this thread serves conn's next request itself: alone, not stopping, the request read or coming."""
        if not (self.alive and self.activity.alone(conn)):
            return False
        if conn.parser.unreader.buf.getvalue():
            return True  # already read (pipelined, or read ahead by a body drain)
        # Checked again after the wait: another client may have come meanwhile.
        return readable_within(conn.sock, KEEP_SERVING_WAIT) and self.alive and self.activity.alone(conn)

    def serve_one(self, conn):
        """Serve one request on `conn`, with fresh budgets."""
        # TLS wraps the raw socket inside gunicorn; AIME serves plain HTTP behind a proxy for that.
        if self.min_rate and not self.cfg.is_ssl:
            if not isinstance(conn.sock, PacedSocket):
                conn.sock = PacedSocket(conn.sock, self.cfg.timeout, self.min_rate)
            conn.sock.new_request()
        return super().handle(conn)

    def handle_request(self, req, conn):
        """Serve a parsed request; one whose body arrives too slowly is answered with Connection: close."""
        if isinstance(conn.sock, PacedSocket):
            # Where the next request would start is unknown once a body read was abandoned.
            conn.sock.on_too_slow = lambda: setattr(req, "must_close", True)
        # Read (a bounded part of) the body on this I/O thread, then wait for an application slot: a client
        # trickling its body holds a cheap thread, never one the probes and other clients need.
        prefetch_body(req, conn.sock, self.prefetch_limit)
        with self.app_slots:
            if not isinstance(conn.sock, PacedSocket):
                return super().handle_request(req, conn)
            conn.sock.hold_next_send()  # the response's head goes out with its first body bytes
            try:
                return super().handle_request(req, conn)
            finally:
                conn.sock.flush_held()  # a head without a body (HEAD, 304), and nothing held for an error page

    def handle_error(self, req, client, addr, exc):
        """A client too slow before the application saw its request is closed with one log line."""
        if isinstance(exc, ClientTooSlow):
            self.log.warning("closed a connection from %s: the client sent its request too slowly",
                             addr[0] if addr else "-")
            return
        super().handle_error(req, client, addr, exc)
