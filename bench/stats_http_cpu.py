"""CPU per request of the statistics, top lists and timeline through the Flask test client (in-process, no
socket): the answer repeated at an unchanged data version, revalidated (If-None-Match), and with the worker's
response cache emptied before each request (the first request after a write that left the answer memo valid is
not measured here: the memo is kept, so this is the HTTP layer's own cost: version, copy, dump, JSON).

    .venv/bin/python -m tests.insights.bench_stats /tmp/aime-bench          # build a 1,000,000-play database
    .venv/bin/python bench/stats_http_cpu.py /tmp/aime-bench [DATABASE_URL]  # RUNS=30 requests each

Prints the minimum and the median of `time.process_time` per request in ms (read the minima on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aime import create_app  # noqa: E402
from aime.config import Config  # noqa: E402

RUNS = int(os.environ.get("RUNS", "30"))
YEAR = "start_date=2023-01-01&end_date=2023-12-31"
QUESTIONS = (("live", "/live"), ("stats year", f"/api/v1/history/stats?{YEAR}"),
             ("stats year Asia/Kolkata", f"/api/v1/history/stats?{YEAR}&tz=Asia/Kolkata"),
             ("stats all time", "/api/v1/history/stats"), ("top tracks year", f"/api/v1/history/top/tracks?{YEAR}"),
             ("top artists all time", "/api/v1/history/top/artists"),
             ("timeline busiest day", "/api/v1/history/timeline?date=2024-06-04&tz=UTC"))


def cpu(call) -> tuple[float, float]:
    """(minimum, median) CPU ms of RUNS calls after two warm-up calls."""
    call()
    call()
    spent = []
    for _ in range(RUNS):
        began = time.process_time()
        call()
        spent.append(time.process_time() - began)
    return min(spent) * 1000, statistics.median(spent) * 1000


def main(directory: str, database_url: str | None = None) -> None:
    """Print the three costs of every question."""
    env = {"AIME_DATA_DIR": directory, "AIME_LOG_LEVEL": "warning", "AIME_TIMEZONE": "Europe/Zurich"}
    if database_url:
        env["DATABASE_URL"] = database_url
    app = create_app(Config.from_env(env))
    client = app.test_client()
    print(f"load average {os.getloadavg()}")
    print(f"{'question':28} {'repeat min/med':>16} {'304 min/med':>16} {'no http cache min/med':>22}")
    for name, url in QUESTIONS:
        print(f"{name:28} " + " ".join(measure(app, client, url)), flush=True)


def measure(app, client, url: str) -> list[str]:
    """The three cells of one question: repeated, revalidated, without the response cache."""
    first = client.get(url)
    assert first.status_code == 200, (url, first.status_code)
    etag = first.headers.get("ETag")
    repeat = cpu(lambda: client.get(url))
    revalidated = cpu(lambda: client.get(url, headers={"If-None-Match": etag})) if etag else None

    def uncached():
        app.extensions.pop("aime.response_cache", None)
        return client.get(url)
    cold = cpu(uncached)
    return [f"{repeat[0]:7.2f}/{repeat[1]:7.2f}",
            f"{revalidated[0]:7.2f}/{revalidated[1]:7.2f}" if revalidated else f"{'-':>15} ",
            f"{cold[0]:13.2f}/{cold[1]:7.2f}"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="the directory of tests/insights/bench_stats.py's database")
    parser.add_argument("database_url", nargs="?", help="default: SQLite in DIRECTORY")
    args = parser.parse_args()
    main(args.directory, args.database_url)
