"""Run a burst of allocation with the cyclic garbage collector paused."""
from __future__ import annotations

import gc


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
