"""CPU per request of the #18.2 reads, in-process through the test client (no HTTP, no gunicorn).

    .venv/bin/python bench/reads_cpu.py DATABASE_URL [RUNS]
    AIME_CODE=/path/to/other/checkout .venv/bin/python bench/reads_cpu.py ...   (that checkout's aime)

On PostgreSQL the CPU of the app's server backends (from /proc, same machine) is added: it is where count(*)
and the other queries run.

For each GET: `miss` = the first read after a write (the per-worker answer cache emptied before every
request, so the view runs: queries, serialisation), `hit` = the same URL again (version read + Flask).
Prints the minimum and the median of `time.process_time` per request (read the minima on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if os.environ.get("AIME_CODE"):  # another checkout's aime (e.g. main's, for a "before" run)
    sys.path.insert(0, os.environ["AIME_CODE"])

from sqlalchemy import create_engine, text  # noqa: E402

from aime import create_app  # noqa: E402
from bench import httpbench  # noqa: E402
from aime.api.conditional import response_cache  # noqa: E402


def busiest_album(url: str) -> int:
    """The owned album with the most plays (the bench's album-detail target)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT t.album_id FROM listens l JOIN tracks t ON t.id = l.track_id JOIN albums a ON a.id = "
                "t.album_id WHERE a.in_collection = :yes GROUP BY t.album_id ORDER BY count(*) DESC, t.album_id "
                "LIMIT 1"), {"yes": True}).scalar())
    finally:
        engine.dispose()


def cpu(call, runs: int, url: str = "") -> tuple[float, float, float]:
    """(minimum, median) CPU milliseconds of `runs` calls after one warm-up call, and the database server's
    CPU milliseconds per call over them (PostgreSQL; 10 ms clock ticks, so only the mean is meaningful)."""
    call()
    spent = []
    server = httpbench.database_cpu_seconds(url) or 0.0
    for _ in range(runs):
        began = time.process_time()
        call()
        spent.append((time.process_time() - began) * 1000)
    server = ((httpbench.database_cpu_seconds(url) or 0.0) - server) * 1000 / runs
    spent.sort()
    return spent[0], spent[len(spent) // 2], server


def main(url: str, runs: int) -> None:
    """Print miss and hit CPU per request of every read."""
    app = create_app({"DATABASE_URL": url, "AIME_DATA_DIR": str(Path(os.environ.get("TMPDIR", "/tmp"))),
                      "AIME_LOG_LEVEL": "warning"})
    album = busiest_album(url)
    paths = [("live", "/live"), ("ready", "/ready"), ("health", "/health"),
             ("album list", "/api/v1/collection/albums"), ("album detail", f"/api/v1/collection/albums/{album}"),
             ("journal p1", "/api/v1/history/tracks?page=1&page_size=50"),
             ("journal p500", "/api/v1/history/tracks?page=500&page_size=50"),
             ("search", "/api/v1/search?q=velvet")]
    client = app.test_client()
    cache = response_cache(app)

    def get(path: str, clear: bool):
        if clear:
            cache._entries.clear()  # noqa: SLF001 - a bench forcing the miss path
            cache._bytes = 0  # noqa: SLF001
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])

    for name, path in paths:
        miss = cpu(lambda: get(path, True), runs, url)  # noqa: B023 (called at once)
        hit = cpu(lambda: get(path, False), runs, url)  # noqa: B023 (called at once)
        print(f"{name:14s} miss min {miss[0]:6.2f} med {miss[1]:6.2f} ms db {miss[2]:6.2f} | hit min "
              f"{hit[0]:6.2f} med {hit[1]:6.2f} ms db {hit[2]:6.2f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url")
    parser.add_argument("runs", nargs="?", type=int, default=30, help="requests per read and mode (30)")
    args = parser.parse_args()
    main(args.database_url, args.runs)
