"""A TCP forwarder a test can start late, cut, freeze, or turn into a black hole (accepts, never answers)."""
from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    """Listens on 127.0.0.1:<port> and forwards to target, until stopped."""

    def __init__(self, port: int, target: tuple[str, int], blackhole: bool = False):
        self.port, self.target, self.blackhole = port, target, blackhole
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closing: set[socket.socket] = set()
        self._stopped = False
        self._listener: socket.socket | None = None
        self.frozen = False
        self.swallowed = 0  # bytes received while frozen: sent to the "database", never forwarded nor answered

    def start(self) -> TcpProxy:
        """Start listening (connections are accepted from now on)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _track(self, sock: socket.socket) -> bool:
        # Under the lock with stop(): a connection made while stopping must not outlive it.
        with self._lock:
            if self._stopped:
                sock.close()
                return False
            self._sockets.append(sock)
            return True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._track(client):
                return
            if self.blackhole or self.frozen:
                continue  # hold the connection open and never say a word
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # the 5 s were for connecting: an idle database connection stays open
            if not self._track(upstream):
                client.close()
                return
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if self.frozen:
                    with self._lock:
                        self.swallowed += len(data)
                    continue
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(src, dst)

    def _close_pair(self, src: socket.socket, dst: socket.socket) -> None:
        """The end of one direction of a connection: shut both sockets; whichever direction ends second closes them."""
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            if src in self._closing or dst in self._closing:
                for sock in (src, dst):
                    sock.close()
                    if sock in self._sockets:
                        self._sockets.remove(sock)
            else:
                self._closing.update((src, dst))

    def freeze(self) -> None:
        """The database hangs: open connections and new ones stay open, every byte is swallowed, none answered."""
        self.frozen = True

    def stop(self) -> None:
        """Stop listening and cut every connection: the database is gone."""
        with self._lock:
            self._stopped = True
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()
            self._closing.clear()
