"""Single flight: of the threads that miss the same key at once, one computes it and the others wait for it."""
from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


class SingleFlight:
    """Which thread computes each key now (thread-safe); `waits` counts the threads that waited for another."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, threading.Event] = {}  # key -> set when its computing thread is done
        self._lock = threading.Lock()
        self.waits = 0

    @contextmanager
    def leading(self, key: Hashable) -> Iterator[bool]:
        """True for the one thread that computes `key`; a thread arriving meanwhile waits until that thread is done
        (whether it succeeded or not), then gets False and looks for the answer again."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = threading.Event()
            else:
                self.waits += 1
        if not leader:
            flight.wait()
            yield False
            return
        try:
            yield True
        finally:
            with self._lock:
                del self._flights[key]
            flight.set()
