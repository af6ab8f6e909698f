"""Statements (database round trips) and CPU per request of the cached reads, in-process through the test client.

    .venv/bin/python bench/reads_trips.py DATABASE_URL [RUNS]

Counts what the database driver sends per request: on SQLite every statement sqlite3 runs (its trace
callback, BEGIN and ROLLBACK included); on PostgreSQL every query psycopg sends (cursor executes, the pool's
ping, and the BEGIN/COMMIT/ROLLBACK psycopg issues itself), i.e. the round trips. `hit` = the same URL read
again (answered from the per-worker cache), `miss` = the cache emptied first (the view runs).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from aime import create_app  # noqa: E402
from aime.api.conditional import response_cache  # noqa: E402
from aime.extensions import db  # noqa: E402
from bench.reads_cpu import busiest_album  # noqa: E402

SENT: Counter = Counter()


def _count_postgresql() -> None:
    import psycopg

    execute, command = psycopg.Cursor.execute, psycopg.Connection._exec_command  # noqa: SLF001

    def counted_execute(self, query, *args, **kwargs):
        SENT[str(getattr(query, "as_string", lambda _c: query)(self.connection))[:40].split()[0].upper()] += 1
        return execute(self, query, *args, **kwargs)

    def counted_command(self, query, *args, **kwargs):
        SENT[(query.decode() if isinstance(query, bytes) else str(query)).split()[0].upper()] += 1
        return command(self, query, *args, **kwargs)

    psycopg.Cursor.execute = counted_execute
    psycopg.Connection._exec_command = counted_command  # noqa: SLF001


def _count_sqlite(engine) -> None:
    @event.listens_for(engine, "connect")
    def _trace(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(lambda sql: SENT.update([sql.split()[0].upper()]))


def main(url: str, runs: int) -> None:
    """Print statements and CPU per request, hit and miss, for each cached read."""
    if url.startswith("postgresql"):
        _count_postgresql()
    app = create_app({"DATABASE_URL": url, "AIME_DATA_DIR": str(Path(os.environ.get("TMPDIR", "/tmp"))),
                      "AIME_LOG_LEVEL": "warning"})
    if url.startswith("sqlite"):
        with app.app_context():
            _count_sqlite(db.engine)
            db.engine.dispose()
    album = busiest_album(url)
    paths = [("live", "/live"), ("album list", "/api/v1/collection/albums"),
             ("album detail", f"/api/v1/collection/albums/{album}"),
             ("journal p1", "/api/v1/history/tracks?page=1&page_size=50"),
             ("search", "/api/v1/search?q=velvet"), ("stats year", "/api/v1/history/stats?year=2024"),
             ("patterns", "/api/v1/history/patterns"), ("streaks", "/api/v1/analytics/streaks")]
    client, cache = app.test_client(), response_cache(app)
    for name, path in paths:
        for mode in ("miss", "hit"):
            client.get(path)
            SENT.clear()
            spent = []
            for _ in range(runs):
                if mode == "miss":
                    cache._entries.clear()  # noqa: SLF001 - a bench forcing the miss path
                    cache._bytes = 0  # noqa: SLF001
                began = time.process_time()
                response = client.get(path)
                spent.append((time.process_time() - began) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            spent.sort()
            kinds = " ".join(f"{k}={v / runs:g}" for k, v in sorted(SENT.items()))
            print(f"{name:13s} {mode:4s} statements {sum(SENT.values()) / runs:5.1f} ({kinds}) "
                  f"cpu min {spent[0]:6.2f} med {spent[len(spent) // 2]:6.2f} ms", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url")
    parser.add_argument("runs", nargs="?", type=int, default=50, help="requests per read and mode (50)")
    args = parser.parse_args()
    main(args.database_url, args.runs)
