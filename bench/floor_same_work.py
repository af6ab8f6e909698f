"""The import floor of the same work: AIME's own rows, rollups included, written as cheaply as SQLite allows.

    .venv/bin/python bench/floor_same_work.py IMPORTED.db FILE.csv [--json OUT.json] [--keep DIR]
    .venv/bin/python bench/floor_same_work.py postgresql://.../IMPORTED FILE.csv --database NAME [--keep DIR]

`bench/importbench.py floor` (the floor of #18.4's "<= 3x the plain-sqlite3 floor") writes the catalogue and the
listens into a lean schema of its own. AIME's import writes more than that: its own schema (more columns, the
search index and data-version triggers) and the rollups that keep every statistic exact (#18.1), about 2.4 rows
per play at 1,000,000 plays. This measures the least any importer of AIME's schema must pay for those rows:
the rows an AIME import ended with (IMPORTED.db, imported from FILE.csv) are read into memory first (not timed),
then inserted, sorted by key, with executemany in one transaction into a freshly migrated database. Counting the
rollups (a per-play Counter or a GROUP BY) is left out, so this is a lower bound. Parse time is the plain floor's.

Reported (CPU seconds of this process, and wall): the plain floor as importbench runs it; the catalogue and
listens into AIME's schema; the rollups; and `same_work_cpu_s` = the plain floor's parse + both inserts.

PostgreSQL (IMPORTED is a PostgreSQL URL; bench/pg_floor.py): the plain floor is COPY into a lean schema in a
database NAME_plain; the same work is one COPY per table, sorted by key, in one transaction into NAME (migrated by
`flask --app aime db upgrade`), then the import's own VACUUM (ANALYZE) and ANALYZE. Each step reports client CPU
(this process), server CPU (its backend) and wall; `same_work_cpu_s` is client + server, the plain floor's parse
included. The databases are dropped at the end unless --keep is given.
"""
from __future__ import annotations

import argparse
import os
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aime.services.importers.pipeline import ANALYZED_TABLES  # noqa: E402
from bench import importbench, pg_floor  # noqa: E402

CATALOGUE_AND_LISTENS = ("artists", "albums", "album_artists", "tracks", "listens")
ROLLUPS = ("track_period_plays", "group_period_plays", "listen_buckets", "track_play_totals",
           "artist_play_totals", "month_quarter_plays")
# What an AIME import on PostgreSQL runs at its end (pipeline.refresh_statistics), and so does the floor.
PG_ANALYZE = ("VACUUM (ANALYZE) listens", "ANALYZE " + ", ".join(ANALYZED_TABLES))


def read_rows(db_path: Path, tables: tuple[str, ...]) -> dict[str, tuple[list[str], list[tuple]]]:
    """Each table's column names and rows, in primary-key order."""
    with sqlite3.connect(db_path) as conn:
        out = {}
        for table in tables:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            out[table] = (columns, conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall())
        return out


def migrated_database(directory: Path) -> Path:
    """An empty SQLite database migrated to AIME's head, made by `flask --app aime db upgrade`."""
    env = {**os.environ, "AIME_DATA_DIR": str(directory)}
    env.pop("DATABASE_URL", None)
    subprocess.run(importbench.flask_command("db", "upgrade"), cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return directory / "musique.db"


def insert_all(conn: sqlite3.Connection, rows: dict[str, tuple[list[str], list[tuple]]]) -> dict:
    """Insert every table's rows in one transaction; CPU and wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    conn.execute("BEGIN")
    for table, (columns, values) in rows.items():
        marks = ", ".join("?" * len(columns))
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
    conn.execute("COMMIT")
    return {"cpu_s": round(time.process_time() - cpu, 2), "wall_s": round(time.perf_counter() - wall, 2),
            "rows": {table: len(values) for table, (_columns, values) in rows.items()}}


def measure(imported: Path, csv_path: Path, work: Path) -> dict:
    """The plain floor, then AIME's final rows written into a fresh migrated database."""
    cpu, wall = time.process_time(), time.perf_counter()
    plain = importbench.floor(csv_path, work / "floor.db")
    plain.update(cpu_s=round(time.process_time() - cpu, 2), wall_s=round(time.perf_counter() - wall, 2))
    base, rollups = read_rows(imported, CATALOGUE_AND_LISTENS), read_rows(imported, ROLLUPS)
    target = work / "same-work.db"
    shutil.copy(migrated_database(work / "empty"), target)
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # as AIME's connections and the plain floor
        written = {"catalogue_and_listens": insert_all(conn, base), "rollups": insert_all(conn, rollups)}
    finally:
        conn.close()
    # The plain floor's parse share of its CPU, by its own wall split (it parses, then inserts).
    parse_cpu = plain["cpu_s"] * plain["parse_seconds"] / plain["seconds"] if plain["seconds"] else 0.0
    same_work = parse_cpu + written["catalogue_and_listens"]["cpu_s"] + written["rollups"]["cpu_s"]
    return {"plain_floor": plain, **written, "same_work_cpu_s": round(same_work, 2),
            "listens": plain["rows_added"]}


def measure_postgres(imported: str, csv_path: Path, admin: str, name: str, keep: bool = False) -> dict:
    """The PostgreSQL plain floor, then AIME's final rows COPYed into a fresh migrated database, then ANALYZE."""
    plain = pg_floor.plain(csv_path, admin, f"{name}_plain", keep)
    written = pg_floor.same_work(imported, CATALOGUE_AND_LISTENS, ROLLUPS, admin, name, PG_ANALYZE, keep)
    client = plain["parse_cpu_s"] + sum(step["client_cpu_s"] for step in written.values())
    server = sum(step["server_cpu_s"] for step in written.values())
    return {"plain_floor": plain, **written, "same_work_client_cpu_s": round(client, 2),
            "same_work_server_cpu_s": round(server, 2), "same_work_cpu_s": round(client + server, 2),
            "listens": plain["rows_added"]}


def main(argv: list[str] | None = None) -> dict:
    """Print (and optionally write) the measurement as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("imported", help="an AIME SQLite database (a path) or PostgreSQL database (a URL) imported "
                                          "from FILE.csv")
    parser.add_argument("csv", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the databases here and keep them (PostgreSQL: keep NAME and NAME_plain)")
    parser.add_argument("--admin", default=None, help="PostgreSQL: a URL to create databases through "
                                                      "(default: IMPORTED's server, database postgres)")
    parser.add_argument("--database", default=None, help="PostgreSQL: the floor's database (default IMPORTED_floor)")
    args = parser.parse_args(argv)
    if args.imported.startswith("postgresql"):
        imported = pg_floor.conninfo(args.imported)
        admin = args.admin or pg_floor.conninfo(args.imported, "postgres")
        name = args.database or pg_floor.make_url(imported).database + "_floor"
        result = measure_postgres(imported, args.csv, admin, name, keep=args.keep is not None)
    elif args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = measure(Path(args.imported), args.csv, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="floor-same-work-") as tmp:
            result = measure(Path(args.imported), args.csv, Path(tmp))
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text)
    print(text)
    return result


if __name__ == "__main__":
    main()
