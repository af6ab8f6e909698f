"""Run a burst of allocation with the cyclic garbage collector paused."""
from __future__ import annotations

import atexit
import gc
import weakref


def without_gc(work, *args):
    """work(*args) with the cyclic garbage collector paused, for code that makes many short-lived objects and no
    cycles (the statistics of a period, a re-import's load of the stored plays): their allocations would otherwise
    set off full collections over every object of the process (80-300 ms each, measured in both places).
    Reference counting still frees everything; cycles wait for the next collection. Another thread that paused it
    too keeps it paused only until the first one ends (harmless)."""
    if not gc.isenabled():
        return work(*args)
    gc.disable()
    try:
        return work(*args)
    finally:
        gc.enable()


class Pause:
    """The cyclic garbage collector paused from `hold()` until `release()` (both idempotent), for a process that
    exists for one job: a re-import holding the stored plays in memory makes many short-lived objects and no
    cycles worth a collection, and each collection walks every object the process keeps (0.3-0.45 s of a
    1,000,000-row re-import at load 7). Never used in a server, whose other threads make cycles meanwhile."""

    def __init__(self) -> None:
        self.held = False

    def hold(self) -> None:
        """Pause the collector (when it runs)."""
        if not self.held and gc.isenabled():
            gc.disable()
            self.held = True

    def release(self) -> None:
        """Run the collector again, if `hold` paused it."""
        if self.held:
            gc.enable()
            self.held = False


_closing_at_exit: weakref.WeakSet = weakref.WeakSet()  # engines to close before the exit's freeze


def freeze_at_exit(engine) -> None:
    """When the interpreter exits, close `engine`'s pooled connections (if it is still there), then freeze every
    object, so that the shutdown's collections walk nothing: 0.3 s of a 1,000,000-row re-import at load 7, for
    memory the process gives back anyway. The engine is closed first: SQLite's last connection then still
    checkpoints and removes the WAL, as it did when a shutdown collection freed it."""
    atexit.unregister(_close_and_freeze)  # registered once per process, however many imports ran
    atexit.register(_close_and_freeze)
    _closing_at_exit.add(engine)


def _close_and_freeze() -> None:
    for engine in list(_closing_at_exit):
        engine.dispose()
    gc.freeze()
