"""glibc malloc settings for the workers, set in the gunicorn master before it forks them (gunicorn.conf.py's
on_starting; the workers inherit them).

Under a steady mixed load a worker's heap keeps spreading although the memory it holds stays flat: with glibc's
defaults each of its threads may get an arena of its own (up to 8 per core), and once a large block allocated
with mmap is freed glibc raises its mmap threshold (and its trim threshold, twice that) to that block's size, so
later blocks of that size are carved from the arenas, where their free space stays resident. Two arenas and a
fixed trim threshold of 128 KiB (which also keeps the mmap threshold at its 128 KiB default) lower a worker's
resident memory by 12-17 MB and roughly halve its growth; they do not stop it (docs/benchmarks.md, "Worker memory
over a soak (soak-rss)").
"""
from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping

M_TRIM_THRESHOLD, M_ARENA_MAX = -1, -8  # glibc's malloc.h
SETTINGS = {"arena_max": (M_ARENA_MAX, 2), "trim_threshold": (M_TRIM_THRESHOLD, 128 * 1024)}
# The operator's own choice wins: any of these in the environment and AIME sets nothing.
OPERATOR_VARIABLES = ("MALLOC_ARENA_MAX", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                      "GLIBC_TUNABLES", "LD_PRELOAD")


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's mallopt, or None where the C library has none (musl has no such settings, macOS neither)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl has a mallopt that does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def tune_malloc(environ: Mapping[str, str], mallopt: Callable[[int, int], int] | None = None) -> dict[str, int]:
    """Apply SETTINGS unless the operator chose allocator settings; returns what was set (name: value)."""
    if any(environ.get(name) for name in OPERATOR_VARIABLES):
        return {}
    mallopt = mallopt if mallopt is not None else _glibc_mallopt()
    if mallopt is None:
        return {}
    return {name: value for name, (option, value) in SETTINGS.items() if mallopt(option, value) == 1}
