"""Maloja's database for a Last.fm CSV, built by Maloja's own import code in minutes instead of hours.

`maloja import` spends ~6 ms of CPU per scrobble here (1,000,000 plays: ~1 h 45 min on an idle core). Almost all of
it is SQL: for every scrobble whose track is not in its LRU cache, `sqldb.get_track_id` looks the track up by a full
scan of `tracks` (Maloja's schema has no index on the normalised names), then `trackartists` (another full scan),
then updates the track's album; then one INSERT per scrobble, each a freshly built SQLAlchemy statement.

This loader runs `maloja.proccontrol.tasks.import_scrobbles.import_scrobbles` itself (Maloja's CSV parser, its
rules and `CleanerAgent.fullclean`, its de-duplication of equal timestamps, its batches of 1,000) with two changes:

* `sqldb.add_scrobbles` is replaced by a batch version: Maloja's own `scrobble_dict_to_db` for every scrobble, then
  one executemany INSERT into Maloja's own `scrobbles` table. `sqldb.get_track_id` is asked once per distinct
  track (artists, title, album): asking it again for the same track changes nothing (the track exists; its album is
  only ever set when it has none, and it has one after the first call), which is also what Maloja's own LRU cache
  does for the tracks it still holds. The tracks, artists and albums are therefore created in the same order, with
  the same ids, as by `maloja import`.
* While loading, plain indexes on the columns those lookups filter by (`aime_bulk_*`), dropped at the end. An index
  changes how SQLite finds rows, not which rows: each lookup matches at most one row (Maloja creates an artist,
  album or track only when no row matches), so the order the rows come back in does not matter.

It refuses a database that already holds scrobbles (Maloja's duplicate handling is not replayed). Checked against
`maloja import` table by table, every row, ids included (`compare`, and tests/bench/test_maloja_bulk.py).

Run from AIME's virtualenv: `python bench/maloja_bulk.py CSV DATA_DIR [--maloja-venv DIR]` installs Maloja if
needed, writes the benchmark's rules file, loads the CSV with Maloja's interpreter and marks DATA_DIR as that
CSV's complete import (`malojabench.record_import`), so `bench/run.py --maloja --maloja-data DATA_DIR` reuses it.
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from pathlib import Path

# (index name, table, column): what get_artist_id, get_album_id and get_track_id filter by.
INDEXES = [("aime_bulk_artists", "artists", "name_normalized"),
           ("aime_bulk_albums", "albums", "albtitle_normalized"),
           ("aime_bulk_albumartists", "albumartists", "album_id"),
           ("aime_bulk_tracks", "tracks", "title_normalized"),
           ("aime_bulk_trackartists", "trackartists", "track_id")]
LOADER = "bench/maloja_bulk.py"


def load(csv_path: str) -> dict:
    """In Maloja's interpreter (its settings in the environment): import the CSV as `maloja import` would."""
    from maloja.database import sqldb
    from maloja.proccontrol.tasks.import_scrobbles import import_scrobbles

    with sqldb.engine.connect() as conn:
        if conn.execute(sqldb.DB["scrobbles"].select().limit(1)).first() is not None:
            raise SystemExit("Maloja's database already holds scrobbles: the bulk loader only fills an empty one")
    track_ids: dict[str, int] = {}
    get_track_id, add_each = sqldb.get_track_id, sqldb.add_scrobbles

    def track_id_once(trackdict, update_album=False, dbconn=None, **kwargs):
        key = json.dumps(trackdict, sort_keys=True)
        if key not in track_ids:
            track_ids[key] = get_track_id(trackdict, update_album=update_album, dbconn=dbconn, **kwargs)
        return track_ids[key]

    def add_scrobbles(scrobbles, update_album=False, dbconn=None):
        with sqldb.engine.begin() as conn:
            rows = [sqldb.scrobble_dict_to_db(s, update_album=update_album, dbconn=conn) for s in scrobbles]
            if rows:
                conn.execute(sqldb.DB["scrobbles"].insert(), rows)
        return len(rows), 0, 0

    with sqldb.engine.begin() as conn:
        for name, table, column in INDEXES:
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")
    sqldb.get_track_id, sqldb.add_scrobbles = track_id_once, add_scrobbles
    try:
        result = import_scrobbles(csv_path)
    finally:
        sqldb.get_track_id, sqldb.add_scrobbles = get_track_id, add_each
        with sqldb.engine.begin() as conn:
            for name, _, _ in INDEXES:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    return {**result, "distinct_tracks": len(track_ids)}


def dump(db_path: Path) -> dict[str, list]:
    """Every table of a Maloja database: its schema and all its rows, sorted."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        out = {"schema": sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                             "WHERE name NOT LIKE 'sqlite_stat%'").fetchall(), key=repr)}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND name NOT LIKE 'sqlite_%'").fetchall():
            out[table] = sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
        return out
    finally:
        conn.close()


def compare(data_a: Path, data_b: Path) -> list[str]:
    """Differences between two Maloja data directories' databases (schema, then each table's rows); [] if none."""
    a, b = (dump(d / "malojadb.sqlite") for d in (data_a, data_b))
    diffs = []
    for table in sorted(set(a) | set(b)):
        rows_a, rows_b = a.get(table, []), b.get(table, [])
        if rows_a != rows_b:
            set_a, set_b = set(rows_a), set(rows_b)
            only_a = [r for r in rows_a if r not in set_b][:3]
            only_b = [r for r in rows_b if r not in set_a][:3]
            diffs.append(f"{table}: {len(rows_a)} rows against {len(rows_b)}; only in the first {only_a}, "
                         f"only in the second {only_b}")
    return diffs


def build(csv_path: Path, data_dir: Path, venv: Path, log: Path, timeout: float = 7200) -> dict:
    """Install Maloja if needed, fill an empty data_dir from the CSV with `load`, and mark it as that CSV's import."""
    from bench import importbench, malojabench

    script = malojabench.install(venv)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir}: not empty")
    csv_path = malojabench.prepare(csv_path.resolve(), data_dir)
    env = malojabench.maloja_env(data_dir, malojabench.free_port())
    result = importbench.run_child([str(script.with_name("python")), str(Path(__file__).resolve()), "--load",
                                    str(csv_path)], env, log, timeout)
    found = re.findall(r"Successfully imported (\d+) scrobbles", log.read_text(encoding="utf-8", errors="replace"))
    if result["exit_code"] != 0 or not found:
        raise SystemExit(f"the bulk load failed ({result}); see {log}")
    result["rows_added"] = int(found[-1])
    result["rows_per_s"] = round(result["rows_added"] / result["seconds"], 1) if result["seconds"] else None
    result["loader"] = LOADER
    malojabench.record_import(data_dir, csv_path, malojabench.MALOJA_VERSION, result)
    return result


def main(argv: list[str] | None = None) -> None:
    """`--load CSV` (in Maloja's interpreter), `--compare DIR DIR`, or `CSV DATA_DIR` (build, from AIME's)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", metavar="CSV", help="load into the Maloja set up by the environment (internal)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar="DIR", help="compare two Maloja data directories")
    parser.add_argument("csv", nargs="?", type=Path)
    parser.add_argument("data_dir", nargs="?", type=Path)
    parser.add_argument("--maloja-venv", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.load:
        print(json.dumps(load(args.load)))
    elif args.compare:
        diffs = compare(*args.compare)
        print("\n".join(diffs) or "identical: schema and every row of every table")
        sys.exit(1 if diffs else 0)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from bench import malojabench
        venv = args.maloja_venv or malojabench.DEFAULT_VENV
        print(json.dumps(build(args.csv, args.data_dir, venv, args.data_dir.parent / f"{args.data_dir.name}-bulk.log")))


if __name__ == "__main__":
    main()
