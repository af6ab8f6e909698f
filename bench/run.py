"""AIME benchmark suite: one command, one machine, one report.

    .venv/bin/python bench/run.py                 # 1,000,000 listens, SQLite + PostgreSQL (~10 min)
    .venv/bin/python bench/run.py --rows 100000 --quick --skip-postgres

Measures (see docs/benchmarks.md): 1. import through `flask --app aime import` into an empty SQLite
database (time, rows/s, peak RSS), the all-duplicates re-import, the plain-sqlite3 floor and the floor of the
same work (bench/floor_same_work.py: AIME's own rows, rollups included, inserted as cheaply as SQLite allows);
2. HTTP under the real gunicorn, each endpoint between two /live windows in interleaved rounds (bench/paired.py);
3. /health while the database is blocked; 4. on PostgreSQL, the import (client and server CPU), its plain COPY floor and
its floor of the same work (bench/pg_floor.py), then the HTTP set. Prints a table and writes
bench/results/<date>.json (<date>-2.json, ... for a later run that day). Load only ever targets 127.0.0.1.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, UTC
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import httpbench, importbench, make_dataset, malojabench, pg_floor  # noqa: E402
from bench.pg_server_cpu import ServerCpu  # noqa: E402
from bench.report import evaluate, render  # noqa: E402
from tests.support.servers import migrate  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), None) if Path("/proc/meminfo").exists() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "os": platform.platform(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "wrk": bool(shutil.which("wrk"))}


def revision() -> str:
    """The commit measured (AIME_BENCH_REVISION, else git), with '+dirty' when files differ from it."""
    if os.environ.get("AIME_BENCH_REVISION"):
        return os.environ["AIME_BENCH_REVISION"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def ensure_dataset(rows: int, seed: int, data_dir: Path) -> dict:
    """Generate the dataset once per (rows, seed); later runs reuse the files."""
    meta_path = data_dir / f"dataset-{rows}.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        files = meta.get("files", {})
        if (meta.get("seed") == seed and set(files) == set(make_dataset.FILE_KINDS)
                and all((data_dir / name).exists() for name in files.values())):
            return meta
    started = time.perf_counter()
    # In a child process: generating 1,000,000 plays in this one would leave it (and, through fork,
    # every child's rusage) hundreds of MB larger.
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_dataset.py"), "--rows", str(rows), "--seed", str(seed),
                    "--out", str(data_dir)], check=True, stdout=subprocess.DEVNULL)
    meta = json.loads(meta_path.read_text())
    meta["generated_in_s"] = round(time.perf_counter() - started, 1)
    return meta


def base_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """Environment for the importer and migrations: this database, quiet logs."""
    return {**os.environ, "DATABASE_URL": database_url, "AIME_DATA_DIR": str(data_dir), "AIME_LOG_LEVEL": "warning"}


def import_phase(csv_path: Path, work: Path, meta: dict, timeout: float) -> tuple[dict, str]:
    """Import into an empty SQLite database, re-import, and the floor."""
    db_path = work / "aime.db"
    url = f"sqlite:///{db_path}"
    env = base_env(url, work)
    migrate(env)
    log = work / "import.log"
    first = importbench.measure_import(csv_path, env, log, timeout)
    again = importbench.measure_import(csv_path, env, log, timeout)
    floor = importbench.measure_floor(csv_path, work / "floor.db", log, timeout)
    first["ratio_to_floor"] = round(first["seconds"] / floor["seconds"], 2) if floor["seconds"] else None
    same_work = same_work_floor(db_path, csv_path, work, timeout)
    first["ratio_to_same_work_floor"] = (round(first["cpu_seconds"] / same_work["same_work_cpu_s"], 2)
                                         if same_work.get("same_work_cpu_s") else None)
    return {"expected_rows": meta["listens"], "first": first, "reimport": again, "floor": floor,
            "same_work_floor": same_work,
            "artists": importbench.count_rows(url, "artists"), "albums": importbench.count_rows(url, "albums"),
            "tracks": importbench.count_rows(url, "tracks"), "log": str(log)}, url


def same_work_floor(db_path: Path | str, csv_path: Path, work: Path, timeout: float, *options: str,
                    out_name: str = "same-work-floor.json") -> dict:
    """bench/floor_same_work.py on the imported database (a SQLite path or a PostgreSQL URL), in a child process
    (it holds every row in memory)."""
    out = work / out_name
    command = [sys.executable, str(ROOT / "bench" / "floor_same_work.py"), str(db_path), str(csv_path),
               "--json", str(out), *options]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=timeout)
    return json.loads(out.read_text())


def load_collection(url: str, work: Path, meta: dict, args) -> dict:
    """Import the Discogs collection CSV through the importer (setup, timed but not a target).

    Falls back to marking the same albums owned with SQL if the importer cannot take the file.
    """
    env = base_env(url, work)
    command = importbench.flask_command("import", str(args.data_dir / meta["files"]["collection"]))
    result = importbench.run_child(command, env, work / "import-collection.log", args.import_timeout)
    if result["exit_code"] != 0:
        result["method"] = "sql (importer failed, see import-collection.log)"
        result["owned"] = httpbench.own_collection(url, args.seed)
    else:
        result["method"] = "importer"
        result["owned"] = importbench.count_owned(url)
    return result


def http_phase(url: str, work: Path, seed: int, args, label: str) -> dict:
    """Pick targets, start gunicorn and load every endpoint."""
    owned = importbench.count_owned(url)
    targets = httpbench.pick_targets(url)
    env = httpbench.server_env(url, work)
    with httpbench.running(env, work / f"gunicorn-{label}.log") as server:
        top = httpbench.choose_top_artists(server.base_url)
        endpoints = httpbench.endpoint_set(targets, top)
        rows = httpbench.measure_paired(server, endpoints, args.connections, args.duration, args.loadgen,
                                        args.rounds, single_duration=None if args.quick else args.single_duration)
    return {"collection_albums": owned, "targets": targets, "rounds": args.rounds, "window_s": args.duration,
            "endpoints": rows}


def blocked_phase(sqlite_url: str, work: Path, args) -> list[dict]:
    """/health while SQLite's write lock is held by another process."""
    db_path = Path(sqlite_url.removeprefix("sqlite:///"))
    env = httpbench.server_env(sqlite_url, work, **httpbench.BLOCKED_ENV)
    results = []
    with httpbench.running(env, work / "gunicorn-blocked.log") as server, httpbench.sqlite_write_lock(db_path):
        results.append({"name": "sqlite write lock held",
                        **httpbench.health_while_blocked(server, args.blocked_duration, args.loadgen)})
    return results


def postgres_phase(csv_path: Path, work: Path, meta: dict, args) -> dict:
    """A scratch PostgreSQL database loaded by the real importer, then the HTTP set against it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(args.postgres_url)
    scratch = args.postgres_db
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
            version = conn.scalar(text("SHOW server_version"))
    finally:
        admin.dispose()
    url = admin_url.set(database=scratch).render_as_string(hide_password=False)
    env = base_env(url, work)
    migrate(env)
    with ServerCpu(scratch, pg_floor.conninfo(args.postgres_url)) as server:
        loaded = importbench.measure_import(csv_path, env, work / "import-pg.log", args.import_timeout)
    loaded.update(server_cpu_seconds=server.result["backends_cpu_s"],
                  client_and_server_cpu_seconds=round(loaded["cpu_seconds"] + server.result["backends_cpu_s"], 2))
    # Before the collection's import changes the albums: the floor copies the rows this import ended with.
    floors = same_work_floor(url, csv_path, work, args.import_timeout, "--admin", args.postgres_url,
                             "--database", f"{scratch}_floor", out_name="same-work-floor-pg.json")
    loaded["ratio_to_same_work_floor"] = (round(loaded["client_and_server_cpu_seconds"] / floors["same_work_cpu_s"],
                                                2) if floors.get("same_work_cpu_s") else None)
    result = {"server_version": version, "database": scratch, "import": loaded, "same_work_floor": floors,
              "expected_rows": meta["listens"], "collection": load_collection(url, work, meta, args)}
    result.update(http_phase(url, work, args.seed, args, "postgres"))
    if not args.skip_blocked:
        result["blocked"] = httpbench.unreachable_postgres(url, work, work / "gunicorn-pg-down.log",
                                                           args.blocked_duration, args.loadgen)
    return result


def maloja_phase(csv_path: Path, work: Path, sqlite_url: str, aime_import: dict, args) -> dict:
    """Maloja in its own virtualenv, fed the same CSV; the same questions to both, answers and speed compared."""
    script = malojabench.install(args.maloja_venv, args.maloja_version)
    data = args.maloja_data or work / "maloja"
    imported = malojabench.kept_import(data, csv_path, args.maloja_version) if args.maloja_data else None
    if imported is None:
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        imported = malojabench.import_plays(script, csv_path, data, work / "maloja-import.log",
                                            args.maloja_import_timeout)
        if imported["exit_code"] != 0:
            raise RuntimeError(f"maloja import failed ({imported}); see {work / 'maloja-import.log'}")
        malojabench.record_import(data, csv_path, args.maloja_version, imported)
    targets = httpbench.pick_targets(sqlite_url)
    with httpbench.running(httpbench.server_env(sqlite_url, work), work / "gunicorn-vs-maloja.log") as aime, \
            malojabench.running(script, data, work / "maloja-server.log") as maloja_base:
        top = requests.get(aime.url("/api/v1/history/top/artists?limit=1"), timeout=120).json()["items"][0]
        asked = malojabench.questions(targets["year"], targets["day"], top["id"], top["name"])
        agreement = []
        for q in asked:  # the answers once, before the load: also warms both servers' caches
            a = requests.get(aime.url(q["aime"]), timeout=300)
            m = requests.get(maloja_base + q["maloja"], timeout=300)
            a.raise_for_status()
            m.raise_for_status()
            agreement.append(malojabench.agree(q["name"], malojabench.aime_answer(q["name"], a.json()),
                                               malojabench.maloja_answer(q["name"], m.json())))
        total = requests.get(maloja_base + malojabench.MLJ + "/numscrobbles", timeout=300).json()["amount"]
        measured = malojabench.measure(aime.base_url, maloja_base, asked, args.maloja_duration, args.maloja_rounds,
                                       args.loadgen)
    return {"version": args.maloja_version, "targets": {**targets, "artist": top["name"]},
            "import": {"aime": aime_import, "maloja": {**imported, "scrobbles_total": total}},
            "agreement": agreement, "rounds": args.maloja_rounds, "duration_s": args.maloja_duration,
            "loadgen": args.loadgen, "rows": malojabench.ratio_rows(measured), "raw": measured}


def results_path(results_dir: Path, rows: int, quick: bool, day: str | None = None) -> Path:
    """A results file of its own, created empty: <date>[-<rows>][-quick].json, or the first free of -2, -3, ...
    when a run of the same day and size wrote one already (never overwritten)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    day = day or datetime.now(UTC).date().isoformat()
    stem = day + ("" if rows == 1_000_000 and not quick else f"-{rows}{'-quick' if quick else ''}")
    for count in itertools.count(1):
        path = results_dir / (f"{stem}.json" if count == 1 else f"{stem}-{count}.json")
        try:
            with open(path, "x"):  # exclusive: two runs started together get two files too
                return path
        except FileExistsError:
            continue


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (defaults are the documented full run)."""
    parser = argparse.ArgumentParser(description="AIME benchmark suite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true",
                        help="short loads (0.5 s windows, Python load generator, no 1-connection pass): "
                             "a sanity run, not numbers")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of one load window (default 1; --quick 0.5); wrk runs whole seconds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the HTTP set: in each, every endpoint is loaded between two /live windows; "
                             "ratios to /live are the median over rounds (default 3)")
    parser.add_argument("--single-duration", type=float, default=2.5,
                        help="seconds of the 1-connection pass per endpoint, after the rounds (default 2.5)")
    parser.add_argument("--blocked-duration", type=float, default=None, help="seconds of /health load while blocked")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8 = 2x4 threads)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default=None)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-blocked", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get("AIME_BENCH_POSTGRES_URL", DEFAULT_PG),
                        help="an existing database to connect to for creating the scratch database")
    parser.add_argument("--postgres-db", default="aime_bench_suite", help="scratch database (dropped and re-created)")
    parser.add_argument("--data-dir", type=Path, default=make_dataset.DEFAULT_OUT)
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep databases and logs here (default: temp)")
    parser.add_argument("--import-timeout", type=float, default=600)
    parser.add_argument("--maloja", action="store_true",
                        help="also install Maloja (own virtualenv), import the same plays and compare side by side")
    parser.add_argument("--maloja-version", default=malojabench.MALOJA_VERSION)
    parser.add_argument("--maloja-venv", type=Path, default=malojabench.DEFAULT_VENV)
    parser.add_argument("--maloja-duration", type=float, default=2.0, help="seconds per question per round")
    parser.add_argument("--maloja-rounds", type=int, default=2, help="times round the interleaved question set")
    parser.add_argument("--maloja-import-timeout", type=float, default=3600)
    parser.add_argument("--maloja-data", type=Path, default=None,
                        help="Maloja's data directory, kept: reused without re-importing when it holds this CSV's "
                             "import by this Maloja version (default: a fresh one in the work dir)")
    args = parser.parse_args(argv)
    args.duration = args.duration or (0.5 if args.quick else 1.0)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.blocked_duration = args.blocked_duration or (1.0 if args.quick else 4.0)
    args.loadgen = args.loadgen or ("python" if args.quick else "auto")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the whole suite; print the table and write the JSON report. Returns the report."""
    args = parse_args(argv)
    started = time.perf_counter()
    report = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "rows": args.rows,
              "seed": args.seed, "quick": args.quick, "revision": revision(), "machine": machine(),
              "settings": {"duration_s": args.duration, "rounds": args.rounds,
                           "single_duration_s": None if args.quick else args.single_duration,
                           "blocked_duration_s": args.blocked_duration,
                           "connections": args.connections, "loadgen": args.loadgen, "workers": 2, "threads": 4}}
    meta = ensure_dataset(args.rows, args.seed, args.data_dir)
    report["dataset"] = meta
    csv_path = args.data_dir / meta["files"]["csv"]
    out = results_path(args.results_dir, args.rows, args.quick)
    with tempfile.TemporaryDirectory(prefix="aime-bench-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        phases = report["phase_seconds"] = {}
        report["load_average"] = {"start": [round(x, 2) for x in os.getloadavg()]}

        def phase(name, fn, *fn_args):
            begun = time.perf_counter()
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            value = fn(*fn_args)
            phases[name] = round(time.perf_counter() - begun, 1)
            # Other work on the machine skews every number: keep the load average beside them.
            report["load_average"][name] = [round(x, 2) for x in os.getloadavg()]
            out.write_text(json.dumps(report, indent=2, default=str) + "\n")  # a crash later keeps this much
            return value

        report["import"], sqlite_url = phase("import", import_phase, csv_path, work, meta, args.import_timeout)
        report["import"]["collection"] = phase("collection", load_collection, sqlite_url, work, meta, args)
        report["http_sqlite"] = phase("http sqlite", http_phase, sqlite_url, work, args.seed, args, "sqlite")
        if not args.skip_blocked:
            report["blocked"] = phase("blocked sqlite", blocked_phase, sqlite_url, work, args)
        if args.maloja:
            report["maloja"] = phase("maloja", maloja_phase, csv_path, work, sqlite_url, report["import"]["first"],
                                     args)
        if not args.skip_postgres:
            report["http_postgres"] = phase("postgres", postgres_phase, csv_path, work, meta, args)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    report["targets"] = evaluate(report)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    report["written_to"] = str(out)
    print(render(report))
    print(f"\nreport: {out}")
    return report


if __name__ == "__main__":
    main()
