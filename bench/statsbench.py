"""Statistics over HTTP, under the real gunicorn, for periods from a day to all time in several zones.

    .venv/bin/python -m tests.insights.bench_stats /tmp/aime-bench          # build a 1,000,000-play database
    .venv/bin/python bench/statsbench.py sqlite:////tmp/aime-bench/musique.db [--duration 5]

Loads each question with 8 connections (as bench/run.py does), then alone with one; prints requests/s,
p50/p99 and server CPU per request, and writes bench/results/<date>-stats.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import httpbench  # noqa: E402

YEAR = "start_date=2023-01-01&end_date=2023-12-31"
QUESTIONS = (
    ("live", "/live"),
    ("stats year", f"/api/v1/history/stats?{YEAR}"),
    ("stats year Asia/Kolkata", f"/api/v1/history/stats?{YEAR}&tz=Asia/Kolkata"),
    ("stats year America/St_Johns", f"/api/v1/history/stats?{YEAR}&tz=America/St_Johns"),
    ("stats one day", "/api/v1/history/stats?start_date=2023-06-15&end_date=2023-06-15"),
    ("stats one month", "/api/v1/history/stats?start_date=2023-06-01&end_date=2023-06-30"),
    ("stats 2013-03-10..2024-10-20", "/api/v1/history/stats?start_date=2013-03-10&end_date=2024-10-20"),
    ("stats 2019..2020", "/api/v1/history/stats?start_date=2019-01-01&end_date=2020-12-31"),
    ("stats 2011..2023 Lord_Howe",
     "/api/v1/history/stats?start_date=2011-01-01&end_date=2023-12-31&tz=Australia/Lord_Howe"),
    ("stats all time", "/api/v1/history/stats"),
    ("top tracks year", f"/api/v1/history/top/tracks?{YEAR}"),
    ("top artists all time", "/api/v1/history/top/artists"),
    ("top tracks all time", "/api/v1/history/top/tracks"),
    # The busiest UTC day of tests/insights/bench_stats.py's 1,000,000-play database (bench/stats_cpu.py finds it).
    ("timeline busiest day", "/api/v1/history/timeline?date=2024-06-04&tz=UTC"),
)


def main(argv: list[str] | None = None) -> list[dict]:
    """Measure QUESTIONS against the database and print/write the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, default=None, help="the JSON report (default bench/results/...)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aime-statsbench-") as tmp:
        env = httpbench.server_env(args.database_url, Path(tmp))
        with httpbench.running(env, Path(tmp) / "gunicorn.log") as server:
            rows = httpbench.measure_set(server, list(QUESTIONS), args.connections, args.duration, args.loadgen)
    out = args.out or ROOT / "bench" / "results" / f"{datetime.now(UTC).date().isoformat()}-stats{args.label}.json"
    out.write_text(json.dumps({"database": args.database_url.split("@")[-1], "load_average": os.getloadavg(),
                               "connections": args.connections, "duration_s": args.duration, "rows": rows}, indent=1))
    columns = ("rps", "p50_ms", "p99_ms", "p50_1c_ms", "p99_1c_ms", "server_cpu_ms_per_request")
    print(f"{'question':32s} " + " ".join(f"{c[:9]:>9s}" for c in columns))
    for r in rows:
        print(f"{r['name']:32s} " + " ".join(f"{r[c]:9.1f}" if r.get(c) is not None else f"{'-':>9s}"
                                             for c in columns))
    print("load average:", os.getloadavg(), "->", out)
    return rows


if __name__ == "__main__":
    main()
