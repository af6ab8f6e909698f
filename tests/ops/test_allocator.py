"""aime.server.allocator: the gunicorn master sets glibc's malloc options before forking its workers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aime.server.allocator import M_ARENA_MAX, M_TRIM_THRESHOLD, OPERATOR_VARIABLES, _glibc_mallopt, tune_malloc

ROOT = Path(__file__).resolve().parents[2]


def test_two_arenas_and_a_fixed_trim_threshold_of_128_kib():
    calls = []
    tuned = tune_malloc({"PATH": "/usr/bin"}, mallopt=lambda option, value: calls.append((option, value)) or 1)
    assert calls == [(-8, 2), (-1, 131072)] and (M_ARENA_MAX, M_TRIM_THRESHOLD) == (-8, -1)
    assert tuned == {"arena_max": 2, "trim_threshold": 131072}


@pytest.mark.parametrize("name", OPERATOR_VARIABLES)
def test_an_operators_own_allocator_setting_wins(name):
    calls = []
    assert tune_malloc({name: "4"}, mallopt=lambda option, value: calls.append(option) or 1) == {}
    assert calls == []


def test_an_option_glibc_refuses_is_not_reported():
    assert tune_malloc({}, mallopt=lambda option, value: int(option == M_ARENA_MAX)) == {"arena_max": 2}


# A process like gunicorn's master: maybe tune, then fork a "worker" that starts 8 threads, each allocating (each
# would get an arena of its own, up to 8 per core), frees a 1 MiB block (glibc allocates it with mmap and, by
# default, then raises its mmap threshold to 1 MiB) and allocates 512 KiB. The worker prints its number of arenas
# (malloc_info's heaps) and the bytes glibc holds in mmapped blocks (mallinfo2's hblkhd).
WORKER = r"""
import ctypes, os, re, sys, tempfile, threading
sys.path.insert(0, sys.argv[1])
from aime.server.allocator import tune_malloc
if sys.argv[2] == "tuned":
    tune_malloc({})
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc.mallinfo2.restype = MallInfo2
libc.fdopen.restype, libc.fdopen.argtypes = ctypes.c_void_p, [ctypes.c_int, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
pid = os.fork()
if pid:
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
held, go = [], threading.Barrier(8)

def work():
    go.wait()  # all 8 alive at once: no thread can inherit the arena of one that has finished
    libc.free(libc.malloc(1 << 20))
    held.append(libc.malloc(512 << 10))
    go.wait()

threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
mmapped = libc.mallinfo2().hblkhd
with tempfile.TemporaryFile() as handle:
    stream = libc.fdopen(os.dup(handle.fileno()), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    handle.seek(0)
    heaps = len(re.findall(rb"<heap nr=", handle.read()))
print(heaps, mmapped >= 8 * (512 << 10), flush=True)
os._exit(0)
"""


@pytest.mark.skipif(_glibc_mallopt() is None, reason="not glibc")
@pytest.mark.parametrize(("mode", "expected"), [
    ("tuned", "2 True"),
    # glibc's default: the main arena and one per thread, at most 8 per core in all
    ("default", f"{min(1 + 8, 8 * os.cpu_count())} False")])
def test_a_forked_worker_inherits_two_arenas_and_the_fixed_mmap_threshold(mode, expected):
    result = subprocess.run([sys.executable, "-c", WORKER, str(ROOT), mode], capture_output=True, text=True,
                            check=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.stdout.split() == expected.split()


# A process like gunicorn's master on SQLite: maybe give SQLite its page slots (before any connection, as
# gunicorn.conf.py's on_starting does), then fork a "worker" that opens the database through AIME's own engine and
# hooks (WAL, the pragmas of every connection), reads the whole file and prints SQLite's page cache counters: slots in
# use, and bytes of pages malloc'd outside the slots (sqlite3_status PAGECACHE_USED, PAGECACHE_OVERFLOW), then the
# number of pages in the file.
PAGES = r"""
import ctypes, os, sqlite3, sys
sys.path.insert(0, sys.argv[1])
import sqlalchemy as sa
from aime.database import install_sqlite_hooks
from aime.server.allocator import _sqlite_library, share_sqlite_page_cache
path = sys.argv[3]
if sys.argv[2] == "slots":
    print(share_sqlite_page_cache() > 4096, end=" ", flush=True)
else:
    print("-", end=" ", flush=True)
setup = sqlite3.connect(path)  # 200 rows of 3,000 bytes: one per page, no overflow pages
setup.execute("PRAGMA page_size=4096")
setup.execute("CREATE TABLE t (x TEXT)")
setup.executemany("INSERT INTO t VALUES (?)", [("x" * 3000,)] * 200)
setup.commit()
setup.close()
pid = os.fork()
if pid:
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
lib = _sqlite_library()

def status(op):
    now, high = ctypes.c_int(), ctypes.c_int()
    lib.sqlite3_status(op, ctypes.byref(now), ctypes.byref(high), 0)
    return now.value

engine = sa.create_engine(f"sqlite:///{path}")
install_sqlite_hooks(engine, 5000)
with engine.connect() as conn:
    conn.execute(sa.text("SELECT sum(length(x)) FROM t")).scalar_one()  # every page: schema, interior, leaves
    pages = conn.execute(sa.text("PRAGMA page_count")).scalar_one()
    print(status(1), status(2) > 0, pages, flush=True)
os._exit(0)
"""


@pytest.mark.parametrize(("mode", "expected"), [
    # The file: page 1 (the schema), 200 leaves, one interior page of the table's b-tree = 202 pages. With the
    # slots every page read sits in one, and so does the one page of scratch space each connection's pager takes
    # when it opens (sqlite3PageMalloc): 203 in use, nothing malloc'd. Without them no slot is used, every page is
    # malloc'd.
    ("slots", "True 203 False 202"),
    ("default", "- 0 True 202")])
def test_a_forked_worker_reads_its_pages_into_the_masters_slots_not_malloc(mode, expected, tmp_path):
    result = subprocess.run([sys.executable, "-c", PAGES, str(ROOT), mode, str(tmp_path / "pages.db")],
                            capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.stdout.split() == expected.split()


def test_the_slots_are_refused_once_a_connection_is_open():
    import sqlite3

    from aime.server.allocator import share_sqlite_page_cache

    connection = sqlite3.connect(":memory:")  # SQLite cannot be reconfigured under an open connection
    try:
        assert share_sqlite_page_cache() == 0
    finally:
        connection.close()
