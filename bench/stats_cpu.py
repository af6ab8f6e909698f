"""CPU per call of the statistics, in-process (no HTTP): history_stats and hours_of_day per question, top lists,
the timeline of the busiest day; each computed ("cold": the answer memo bypassed) and answered again at an unchanged
data version ("warm": from the per-worker answer memo, aime/services/answer_memo.py).

    .venv/bin/python -m tests.insights.bench_stats /tmp/aime-bench          # build a 1,000,000-play database
    .venv/bin/python bench/stats_cpu.py /tmp/aime-bench [DATABASE_URL]      # RUNS=7 calls each, after a warm-up
    WRITES=1 .venv/bin/python bench/stats_cpu.py /tmp/aime-bench            # rollups.listens_added instead

WRITES=1: CPU of rollups.listens_added for time-ordered batches of 1,000 and 5,000 plays (the listens from
2023-06-01 on, as they are: rollup rows that exist; and moved 16 years on: new month/year rows), each call in a
transaction rolled back afterwards.

Prints the minimum and the median of `time.process_time` per call (read the minima on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from aime import create_app  # noqa: E402
from aime.config import Config, current_config  # noqa: E402
from aime.extensions import db  # noqa: E402
from aime.gcpause import without_gc  # noqa: E402
from aime.services import history, stats  # noqa: E402
from aime.services.localtime import hours_of_day  # noqa: E402
from aime.timeutil import range_bounds, zone  # noqa: E402
from sqlalchemy import text  # noqa: E402

YEAR = (date(2023, 1, 1), date(2023, 12, 31))
CASES = [("year UTC", *YEAR, "UTC"), ("year Asia/Kolkata", *YEAR, "Asia/Kolkata"),
         ("year America/St_Johns", *YEAR, "America/St_Johns"), ("year Europe/Paris", *YEAR, "Europe/Paris"),
         ("month 2023-06", date(2023, 6, 1), date(2023, 6, 30), "UTC"),
         ("day 2023-06-15", date(2023, 6, 15), date(2023, 6, 15), "UTC"),
         ("2013-03-10..2024-10-20", date(2013, 3, 10), date(2024, 10, 20), "UTC"),
         ("2019-01-01..2020-12-31", date(2019, 1, 1), date(2020, 12, 31), "UTC"),
         ("2016-12-25..2019-01-05 Paris", date(2016, 12, 25), date(2019, 1, 5), "Europe/Paris"),
         ("2011..2023 Lord_Howe", date(2011, 1, 1), date(2023, 12, 31), "Australia/Lord_Howe"),
         ("all time UTC", None, None, "UTC"), ("all time Europe/Paris", None, None, "Europe/Paris")]


WALL: list[float] = []  # the minimum wall milliseconds of the last cpu() call (PostgreSQL's own CPU is not ours)


def cpu(call, runs: int) -> tuple[float, float]:
    """(minimum, median) CPU milliseconds of `runs` calls after one warm-up call."""
    call()
    spent, wall = [], []
    for _ in range(runs):
        began, began_wall = time.process_time(), time.perf_counter()
        call()
        spent.append((time.process_time() - began) * 1000)
        wall.append((time.perf_counter() - began_wall) * 1000)
    spent.sort()
    WALL[:] = [min(wall)]
    return spent[0], spent[len(spent) // 2]


def measure(runs: int) -> None:
    """Print every question's CPU per call (inside an app context)."""
    config = current_config()
    for label, start, end, tz in CASES:
        p = stats.period(config, start, end, tz)
        best, mid = cpu(lambda: without_gc(stats._history_stats, p, 10), runs)  # noqa: B023 (called at once)
        wall = WALL[0]
        warm, _ = cpu(lambda: stats.history_stats(config, start, end, tz), runs)  # noqa: B023 (called at once)
        lo, hi = range_bounds(start, end, zone(tz, "UTC"))
        hbest, hmid = cpu(lambda: hours_of_day(zone(tz, "UTC"), lo, hi), runs)  # noqa: B023 (called at once)
        print(f"{label:26s} history_stats min {best:6.1f} med {mid:6.1f} ms wall {wall:6.1f} (warm {warm:5.2f}) | "
              f"hours_of_day "
              f"min {hbest:6.1f} med {hmid:6.1f} ms", flush=True)
        db.session.remove()
    every = stats.period(config)
    for kind in ("artists", "albums", "tracks"):
        best, mid = cpu(lambda: without_gc(stats._top_items, every, kind, 10, "plays"), runs)  # noqa: B023 (called at once)
        wall = WALL[0]
        warm, _ = cpu(lambda: stats.top_list(config, kind), runs)  # noqa: B023 (called at once)
        print(f"top {kind:7s} all time       top_list      min {best:6.1f} med {mid:6.1f} ms wall {wall:6.1f} "
              f"(warm {warm:5.2f})",
              flush=True)
    day = busiest_day()
    tz = zone("UTC", "UTC")
    best, mid = cpu(lambda: history._timeline(day, tz), runs)
    wall = WALL[0]
    warm, _ = cpu(lambda: history.timeline(config, day, "UTC"), runs)
    print(f"timeline {day} (busiest) min {best:6.1f} med {mid:6.1f} ms wall {wall:6.1f} (warm {warm:5.2f})",
          flush=True)


def measure_writes(runs: int) -> None:
    """Print listens_added's CPU per time-ordered batch (inside an app context; nothing is kept)."""
    from aime.services import rollups
    for size in [int(n) for n in os.environ.get("SIZES", "1000,5000").split(",")]:
        pairs = [tuple(row) for row in db.session.execute(text(
            "SELECT track_id, played_at, listened_seconds FROM listens WHERE played_at >= 1685577600 "
            "ORDER BY played_at LIMIT :n"), {"n": size})]
        for label, shift in (("existing rows", 0), ("new months", 16 * 365 * 86400)):
            batch = [(track_id, played_at + shift, listened) for track_id, played_at, listened in pairs]

            def call(batch=batch) -> None:
                rollups.listens_added(db.session, batch)
                db.session.rollback()
            best, mid = cpu(call, runs)
            print(f"listens_added {size:5d} plays, {label:13s} min {best:6.1f} med {mid:6.1f} ms", flush=True)


def busiest_day() -> date:
    """The UTC day with most plays."""
    day = db.session.scalar(text("SELECT bucket / 96 FROM listen_buckets GROUP BY bucket / 96 "
                                 "ORDER BY SUM(plays) DESC, bucket / 96 LIMIT 1"))
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(day))


def main(argv: list[str]) -> None:
    """Build the app on the given data dir (and database URL), migrate it to head, measure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", help="the directory of tests/insights/bench_stats.py's database")
    parser.add_argument("database_url", nargs="?", help="default: SQLite in DATA_DIR")
    args = parser.parse_args(argv)
    env = {"AIME_DATA_DIR": args.data_dir, "AIME_LOG_LEVEL": "warning", "AIME_TIMEZONE": "UTC"}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    app = create_app(Config.from_env(env))
    print("load:", os.getloadavg())
    with app.app_context():
        upgrade()
        (measure_writes if os.environ.get("WRITES") else measure)(int(os.environ.get("RUNS", "7")))
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main(sys.argv[1:])
