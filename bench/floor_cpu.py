"""CPU per request of any GETs, calling the WSGI app directly (no test client, no HTTP), as under gunicorn.

    .venv/bin/python bench/floor_cpu.py DATABASE_URL PATH [PATH ...] [--runs N] [--rounds R] [--profile N]
    AIME_CODE=/path/to/other/checkout ...   (that checkout's aime, e.g. main's for a "before" run)

PROMETHEUS_MULTIPROC_DIR is set to a fresh directory before prometheus_client is imported (as gunicorn.conf.py
does), so the counters are written to mmapped files as in a worker. Each path is asked once to warm it, then the
paths are asked in turn, RUNS times each per round, for ROUNDS rounds; prints min / median / mean of
`time.process_time` per request. With --profile N, the same loop runs under cProfile afterwards and the N
heaviest functions (own time) per path are printed.
"""
from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if os.environ.get("AIME_CODE"):
    sys.path.insert(0, os.environ["AIME_CODE"])
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aime-floor-")
# Gone at exit whatever the script that imported this module does (--help and argument errors exit early).
atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

from aime import create_app  # noqa: E402


def environ_for(path: str) -> dict:
    """A WSGI environ like gunicorn's for `GET path` over HTTP/1.1 from wrk."""
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path_info, "QUERY_STRING": query,
        "RAW_URI": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.input_terminated": True,
    }


def ask(app, path: str) -> str:
    """One request through the WSGI app, body consumed and closed, as gunicorn does; returns the status."""
    seen = []
    body = app(environ_for(path), lambda status, headers, exc_info=None: seen.append(status))
    try:
        for _chunk in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    return seen[0]


@contextmanager
def warm_app(database_url: str, paths: list[str], prefix: str) -> Iterator:
    """An AIME app on `database_url` with a throwaway data directory, each path asked once and answering 200."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    try:
        app = create_app({"DATABASE_URL": database_url, "AIME_DATA_DIR": data_dir,
                          "AIME_LOG_LEVEL": "warning", "AIME_API_TOKEN": "bench-token-0123456789abcdef"})
        for path in paths:
            status = ask(app, path)
            assert status.startswith("200"), (path, status)
        yield app
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    """Print CPU per request of each path (and optionally a profile)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    try:
        with warm_app(args.database_url, args.paths, "aime-floor-data-") as app:
            measure(app, args)
    finally:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def measure(app, args) -> None:
    """CPU per request of each path over the rounds, then the optional profile."""
    spent: dict[str, list[float]] = {path: [] for path in args.paths}
    for _round in range(args.rounds):
        for path, values in spent.items():
            for _ in range(args.runs):
                began = time.process_time()
                ask(app, path)
                values.append((time.process_time() - began) * 1000)
    for path, values in spent.items():
        values.sort()
        print(f"{path:60s} min {values[0]:.3f} med {values[len(values) // 2]:.3f} "
              f"mean {sum(values) / len(values):.3f} ms", flush=True)
    for path in args.paths if args.profile else ():
        profile = cProfile.Profile(time.process_time)  # CPU, not wall time: the machine is shared
        profile.enable()
        for _ in range(args.runs):
            ask(app, path)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats(os.environ.get("AIME_PROFILE_SORT", "tottime")).print_stats(args.profile)
        print(f"==== {path} ({args.runs} requests)\n{out.getvalue()}", flush=True)


if __name__ == "__main__":
    main()
