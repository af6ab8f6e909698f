"""glibc malloc settings for the workers, set in the gunicorn master before it forks them (gunicorn.conf.py's
on_starting; the workers inherit them).

Under a steady mixed load a worker's heap keeps spreading although the memory it holds stays flat: with glibc's
defaults each of its threads may get an arena of its own (up to 8 per core), and once a large block allocated
with mmap is freed glibc raises its mmap threshold (and its trim threshold, twice that) to that block's size, so
later blocks of that size are carved from the arenas, where their free space stays resident. Two arenas and a
fixed trim threshold of 128 KiB (which also keeps the mmap threshold at its 128 KiB default) lower a worker's
resident memory by 12-17 MB and roughly halve its growth; they do not stop it (docs/benchmarks.md, "Worker memory
over a soak (soak-rss)").

What spread the arenas under writes is SQLite's page cache: every commit makes every other connection of every worker
drop its cached pages at its next read (WAL: the database changed), and SQLite then reads them again into buffers
of ~4.4 KiB, each a malloc of its own by default, freed and allocated again at each write among Python's blocks.
share_sqlite_page_cache gives SQLite one fixed buffer of page slots for the whole process instead
(SQLITE_CONFIG_PAGECACHE): the pages come and go there, never through the arenas (a page beyond the slots is
malloc'd as before). Set in the master before any connection is opened (SQLite takes it only while not initialised);
the workers inherit it (docs/benchmarks.md, "Worker memory over a soak, the write path (soak-rss2)").
"""
from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping
from typing import Any

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


SQLITE_CONFIG_PAGECACHE, SQLITE_CONFIG_PCACHE_HDRSZ = 7, 24  # sqlite3.h
PAGE_SIZE = 4096  # SQLite's default page size, AIME's databases' (a larger page is malloc'd, as without the slots)
PAGE_SLOTS = 1024  # ~4.4 MiB of address space per process; resident only as far as the slots were ever used
_slots: list[int] = []  # the buffer's address: allocated once, never freed (connections may outlive any object)


def _sqlite_library() -> Any:
    """The SQLite library the sqlite3 module runs on (symbols looked up through _sqlite3 resolve to the library it
    is linked with, so this configures that instance, not another copy)."""
    import _sqlite3

    return ctypes.CDLL(_sqlite3.__file__)


def share_sqlite_page_cache(slots: int = PAGE_SLOTS, page_size: int = PAGE_SIZE, library: Any = None) -> int:
    """Give SQLite's page caches one buffer of `slots` page slots for the whole process; returns the slot size in
    bytes, or 0 when SQLite refused (nothing changed then). Call it before any SQLite connection is opened: it shuts
    SQLite down (only allowed with no connection open) to configure it, then initialises it again."""
    lib = library if library is not None else _sqlite_library()
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    if lib.sqlite3_memory_used() != 0:  # a connection is open (SQLite's shutdown would not refuse): leave it be
        return 0
    header = ctypes.c_int(0)
    if lib.sqlite3_shutdown() != 0 or lib.sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, ctypes.byref(header)) != 0:
        lib.sqlite3_initialize()
        return 0
    size = (page_size + header.value + 7) // 8 * 8
    if not _slots:
        libc = ctypes.CDLL(None)
        libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        _slots.append(libc.malloc(size * slots))
    configured = lib.sqlite3_config(SQLITE_CONFIG_PAGECACHE, ctypes.c_void_p(_slots[0]), ctypes.c_int(size),
                                    ctypes.c_int(slots)) == 0
    if lib.sqlite3_initialize() != 0:
        return 0
    return size if configured else 0
