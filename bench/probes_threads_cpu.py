"""CPU per request of GETs with several threads calling the WSGI app at once, as in a gthread worker.

    .venv/bin/python bench/probes_threads_cpu.py DATABASE_URL THREADS RUNS ROUNDS PATH [PATH ...]
    AIME_CODE=/path/to/other/checkout ...   (that checkout's aime, e.g. main's for a "before" run)

One thread alone never waits for the GIL; a gunicorn worker's 4 threads do, after every system call that lets go
of it (a stat, a read). bench/floor_cpu.py's WSGI call, with PROMETHEUS_MULTIPROC_DIR prepared as gunicorn.conf.py
prepares it; per round and path, THREADS threads make RUNS requests each. Prints the minimum and median over the
rounds of the process's CPU (all threads) and wall time per request.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.floor_cpu import ask  # noqa: E402  (sets PROMETHEUS_MULTIPROC_DIR to a directory of its own)
from aime.observability.metrics_dir import prepare_metrics_dir  # noqa: E402

prepare_metrics_dir()  # its roster, as under gunicorn

from aime import create_app  # noqa: E402


def _round(app, path: str, threads: int, runs: int) -> tuple[float, float]:
    """(CPU us, wall us) per request of `threads` threads making `runs` requests each."""
    def work() -> None:
        for _ in range(runs):
            ask(app, path)

    started = [threading.Thread(target=work) for _ in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    count = threads * runs
    return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6


def main(url: str, threads: int, runs: int, rounds: int, paths: list[str]) -> None:
    """Print CPU and wall per request of each path."""
    data_dir = tempfile.mkdtemp(prefix="aime-threads-data-")
    try:
        app = create_app({"DATABASE_URL": url, "AIME_DATA_DIR": data_dir, "AIME_LOG_LEVEL": "error"})
        for path in paths:
            assert ask(app, path).startswith("200"), path
        spent: dict[str, list[tuple[float, float]]] = {path: [] for path in paths}
        for _ in range(rounds):
            for path in paths:
                spent[path].append(_round(app, path, threads, runs))
        for path, values in spent.items():
            cpu, wall = sorted(v[0] for v in values), sorted(v[1] for v in values)
            print(f"{path:10s} cpu min {cpu[0]:.1f} med {cpu[len(cpu) // 2]:.1f} us   "
                  f"wall min {wall[0]:.1f} med {wall[len(wall) // 2]:.1f} us", flush=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url")
    parser.add_argument("threads", type=int)
    parser.add_argument("runs", type=int, help="requests per thread, path and round")
    parser.add_argument("rounds", type=int)
    parser.add_argument("paths", nargs="+", metavar="PATH")
    args = parser.parse_args()
    main(args.database_url, args.threads, args.runs, args.rounds, args.paths)
