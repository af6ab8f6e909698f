"""HTTP measurements under the real gunicorn (shipped gunicorn.conf.py), and /health with the database blocked."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import contextlib
from contextlib import contextmanager
from datetime import datetime, UTC
from pathlib import Path
from collections.abc import Iterator

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: `python bench/httpbench.py`
    sys.path.insert(0, str(ROOT))

from bench import loadgen, paired  # noqa: E402
from bench.make_dataset import collection_albums  # noqa: E402
from tests.support.servers import Gunicorn  # noqa: E402

TOP_ARTISTS_PATHS = ("/api/v1/history/top/artists?limit=10", "/api/v1/history/stats?limit=10")


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a benchmark gunicorn: 2 workers x 4 threads, as shipped."""
    return {"DATABASE_URL": database_url, "AIME_DATA_DIR": str(data_dir), "AIME_WORKERS": "2",
            "AIME_THREADS": "4", "AIME_LOG_LEVEL": "warning", "AIME_API_TOKEN": "bench-token-0123456789abcdef",
            **extra}


@contextmanager
def running(env: dict[str, str], log_path: Path, wait_path: str = "/live") -> Iterator[Gunicorn]:
    """A gunicorn master from gunicorn.conf.py for the block (the database is already migrated)."""
    server = Gunicorn(env, log_path).start(wait_path=wait_path, timeout=90)
    try:
        yield server
    finally:
        server.stop()


def own_collection(database_url: str, seed: int, count: int = 1_000) -> int:
    """Mark the dataset's collection records as owned (with year and format); returns how many matched.

    Setup, not measured: the history import only creates albums known from listening.
    """
    from sqlalchemy import create_engine, text

    from aime.text import normalise

    params = [{"title": normalise(title), "artist": normalise(artist), "year": year, "support": support}
              for artist, title, year, support in collection_albums(seed, count)]
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "UPDATE albums SET in_collection = :yes, year = :year, support = :support "
                "WHERE title_key = :title AND primary_artist_id = (SELECT id FROM artists WHERE name_key = :artist)"),
                [{**p, "yes": True} for p in params])
            conn.execute(text("UPDATE albums SET in_collection = :no WHERE in_collection IS NULL"), {"no": False})
            return int(conn.scalar(text("SELECT count(*) FROM albums WHERE in_collection = :yes"), {"yes": True}))
    finally:
        engine.dispose()


def pick_targets(database_url: str) -> dict:
    """The album, day and year the endpoint set asks for: the busiest ones (worst realistic case)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            album = conn.execute(text(
                "SELECT t.album_id FROM listens l JOIN tracks t ON t.id = l.track_id "
                "JOIN albums a ON a.id = t.album_id WHERE a.in_collection = :yes "
                "GROUP BY t.album_id ORDER BY count(*) DESC, t.album_id LIMIT 1"), {"yes": True}).scalar()
            if album is None:
                album = conn.execute(text("SELECT min(id) FROM albums")).scalar()
            day = conn.execute(text("SELECT played_at / 86400 AS d FROM listens GROUP BY played_at / 86400 "
                                    "ORDER BY count(*) DESC, 1 LIMIT 1")).scalar()
            last = conn.execute(text("SELECT max(played_at) FROM listens")).scalar()
    finally:
        engine.dispose()
    last_year = datetime.fromtimestamp(last, UTC).year - 1
    return {"album_id": int(album), "day": datetime.fromtimestamp(int(day) * 86400, UTC).date().isoformat(),
            "year": last_year}


def endpoint_set(targets: dict, top_artists_path: str) -> list[tuple[str, str]]:
    """(name, path) of every measured endpoint, /live first."""
    year = targets["year"]
    return [
        ("live", "/live"),
        ("health", "/health"),
        ("ready", "/ready"),
        ("album list", "/api/v1/collection/albums"),
        ("album detail", f"/api/v1/collection/albums/{targets['album_id']}"),
        ("journal p1", "/api/v1/history/tracks?page=1&page_size=50"),
        ("journal p500", "/api/v1/history/tracks?page=500&page_size=50"),
        ("timeline day", f"/api/v1/history/timeline?date={targets['day']}"),
        ("stats year", f"/api/v1/history/stats?start_date={year}-01-01&end_date={year}-12-31"),
        ("top artists all-time", top_artists_path),
        ("search", "/api/v1/search?q=velvet"),
    ]


def choose_top_artists(base_url: str) -> str:
    """The all-time top-artists endpoint: the analytics one when it exists, else stats without dates."""
    for path in TOP_ARTISTS_PATHS:
        if requests.get(base_url + path, timeout=120).status_code == 200:
            return path
    return TOP_ARTISTS_PATHS[-1]


def server_cpu_seconds(server: Gunicorn) -> float:
    """CPU seconds used so far by the master's workers, from /proc.

    Each thread's run time in nanoseconds (task/*/schedstat): utime + stime in /proc/PID/stat count whole clock
    ticks (10 ms), and a short phase on a loaded machine can fall between two ticks, i.e. measure 0. The worker
    threads live as long as the worker, so no time is lost with a thread that ended; without schedstat, the ticks.
    """
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) != server.proc.pid:  # field 4 (ppid), after the "(comm)" field
            continue
        nanoseconds = _threads_run_time_ns(stat.parent)
        total += nanoseconds / 1e9 if nanoseconds is not None else (int(fields[11]) + int(fields[12])) / tick
    return total


def _threads_run_time_ns(proc_dir: Path) -> int | None:
    """Sum of the first field of every thread's schedstat (time on a CPU, ns), or None when none is readable."""
    found, total = False, 0
    for schedstat in proc_dir.glob("task/*/schedstat"):
        try:
            total += int(schedstat.read_text().split()[0])
            found = True
        except (OSError, IndexError, ValueError):
            continue
    return total if found else None


def database_cpu_seconds(database_url: str) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends serving this database's other sessions, from /proc
    (None off PostgreSQL; a backend that ended meanwhile is skipped)."""
    if not database_url.startswith("postgresql"):
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid()")).scalars().all()
    finally:
        engine.dispose()
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def measure_window(server: Gunicorn, name: str, path: str, connections: int, duration: float, tool: str) -> dict:
    """One load window on one endpoint: the load generator's numbers plus the server CPU per request."""
    cpu_before = server_cpu_seconds(server)
    row = {"name": name, **loadgen.measure(server.url(path), connections, duration, tool)}
    # Server CPU per request: unlike latency, barely moved by other work on a shared machine.
    cpu = server_cpu_seconds(server) - cpu_before
    row["server_cpu_ms_per_request"] = round(cpu * 1000 / row["requests"], 3) if row["requests"] else None
    return row


def _single_connection(server: Gunicorn, path: str, duration: float, tool: str) -> dict:
    # Unloaded latency too: at 8 connections on 2 cores, p99 is mostly queueing behind other requests.
    alone = loadgen.measure(server.url(path), 1, duration, tool)
    return {"p50_1c_ms": alone["p50_ms"], "p99_1c_ms": alone["p99_ms"]}


def _warm(server: Gunicorn, name: str, path: str) -> dict:
    status = requests.get(server.url(path), timeout=120).status_code  # warm caches and check it exists
    return {"name": name, "path": path, "status": status, **({"missing": True} if status == 404 else {})}


def measure_set(server: Gunicorn, endpoints: list[tuple[str, str]], connections: int, duration: float,
                tool: str, single: bool = True) -> list[dict]:
    """Warm each endpoint up once, then load it once; ratios are to /live's one window of this same run (see
    measure_paired for ratios that hold on a shared machine)."""
    results = []
    for name, path in endpoints:
        row = _warm(server, name, path)
        if not row.get("missing"):
            window = measure_window(server, name, path, connections, duration, tool)
            window["server_cpu_ms_per_request"] = (None if window["server_cpu_ms_per_request"] is None
                                                   else round(window["server_cpu_ms_per_request"], 2))
            row.update(window)
            if single:
                row.update(_single_connection(server, path, max(duration / 2, 0.2), tool))
        results.append(row)
    live = next((r["rps"] for r in results if r["name"] == "live" and r.get("rps")), None)
    for row in results:
        row["ratio_to_live"] = round(row["rps"] / live, 3) if live and row.get("rps") is not None else None
    return results


def measure_paired(server: Gunicorn, endpoints: list[tuple[str, str]], connections: int, duration: float,
                   tool: str, rounds_count: int, single_duration: float | None = None) -> list[dict]:
    """Warm each endpoint up once, then `rounds_count` rounds of `duration`-second windows, each endpoint between
    two /live windows (bench/paired.py); one row per endpoint (first /live, added when not listed) with the median
    ratio to /live by req/s and by server CPU, their spread, and every round. With single_duration, each endpoint
    once more with one connection afterwards (p50_1c_ms, p99_1c_ms)."""
    if all(name != paired.LIVE for name, _path in endpoints):
        endpoints = [(paired.LIVE, "/live"), *endpoints]
    rows = {name: _warm(server, name, path) for name, path in endpoints}
    paths = {name: path for name, path in endpoints if not rows[name].get("missing")}
    seen: dict[str, list[dict]] = {name: [] for name in paths}
    for index in range(rounds_count):
        windows = [measure_window(server, name, paths[name], connections, duration, tool)
                   for name in paired.interleave(list(paths), index)]
        for name, entry in paired.pair_round(windows).items():
            seen[name].append({"round": index + 1, **entry})
    for name, path in paths.items():
        rows[name].update(paired.summarise(name, seen[name]))
        if single_duration:
            rows[name].update(_single_connection(server, path, single_duration, tool))
    return list(rows.values())


_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")  # takes SQLite's write lock and keeps it until stdin closes
conn.execute("CREATE TABLE IF NOT EXISTS bench_lock_holder (x INTEGER)")
conn.execute("INSERT INTO bench_lock_holder VALUES (1)")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@contextmanager
def sqlite_write_lock(db_path: Path) -> Iterator[None]:
    """Another process holds the SQLite write lock (BEGIN IMMEDIATE + an insert) for the block."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "locked":
            raise RuntimeError("the lock holder did not take the write lock")
        yield
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


# While blocked, checks must really run: short cache TTLs so the load hits fresh checks, not a cached answer.
BLOCKED_ENV = {"AIME_HEALTH_SUCCESS_TTL": "0.5", "AIME_HEALTH_FAILURE_TTL": "0.5", "AIME_HEALTH_INTERVAL": "1",
               "AIME_STARTUP_DB_WAIT_SECONDS": "1"}


def health_while_blocked(server: Gunicorn, duration: float, tool: str, until: int | None = None,
                         within: float = 10.0) -> dict:
    """/health under light load (2 connections) for `duration` seconds; the statuses seen before and after it.

    With `until`, /health is then asked once every 0.1 s until it answers that status or `within` seconds pass since
    the phase began: `seconds_to_status` is how long the last good result stood (None: never seen in time).
    """
    began = time.perf_counter()
    seen = {requests.get(server.url("/health"), timeout=30).status_code for _ in range(3)}
    result = loadgen.measure(server.url("/health"), 2, duration, tool)
    seen |= {requests.get(server.url("/health"), timeout=30).status_code for _ in range(3)}
    extra = {}
    if until is not None:
        extra["seconds_to_status"] = None
        while time.perf_counter() - began < within:
            status = requests.get(server.url("/health"), timeout=30).status_code
            seen.add(status)
            if status == until:
                extra["seconds_to_status"] = round(time.perf_counter() - began, 2)
                break
            time.sleep(0.1)
    return {**result, "statuses": sorted(seen), **extra}


def unreachable_postgres(database_url: str, data_dir: Path, log_path: Path, duration: float, tool: str) -> list[dict]:
    """/health of a running server after its PostgreSQL stops answering, then starts refusing connections.

    AIME refuses to start without its database (startup validation), so the outage comes later: the
    server reaches PostgreSQL through a local proxy that we first freeze (a hung server), then close.
    """
    from sqlalchemy.engine import make_url

    real = make_url(database_url)
    results = []
    with TcpProxy("127.0.0.1", real.port or 5432) as proxy:
        url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        with running(server_env(url, data_dir, **BLOCKED_ENV), log_path) as server:
            requests.get(server.url("/health"), timeout=30)
            proxy.mode = "hang"
            results.append({"name": "postgres hanging", **health_while_blocked(server, duration, tool)})
            proxy.refuse()
            # The last good result stands for its TTL plus one check deadline (aime/health/registry.py), then 503.
            results.append({"name": "postgres refusing", **health_while_blocked(server, duration, tool, until=503)})
    return results


class TcpProxy:
    """A 127.0.0.1 TCP forwarder we can freeze (hang: bytes are swallowed) or shut (refuse: port closed)."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.mode = "forward"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def __enter__(self) -> TcpProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.refuse()

    def refuse(self) -> None:
        """Close the port and every open connection: new connections are refused."""
        self.mode = "refuse"
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.sockets.append(client)
            if self.mode != "forward":
                continue  # hung: accepted, never answered
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
            with self.lock:
                self.sockets.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.mode == "forward":
                try:
                    target.sendall(data)
                except OSError:
                    return


def rounds(database_url: str, work: Path, names: list[str], rounds_count: int, duration: float,
           connections: int = 8, tool: str = "auto", extra: list[tuple[str, str]] = ()) -> list[dict]:
    """The named endpoints of endpoint_set (and `extra` (name, path) pairs) against an existing, loaded database,
    measured as bench/run.py's HTTP phase does (measure_paired: each between two /live windows, interleaved
    rounds, median ratios)."""
    targets = pick_targets(database_url)
    chosen = [(name, path) for name, path in endpoint_set(targets, TOP_ARTISTS_PATHS[-1]) if name in names]
    chosen += list(extra)
    with running(server_env(database_url, work), work / "gunicorn-rounds.log") as server:
        return measure_paired(server, chosen, connections, duration, tool, rounds_count)


def main(argv: list[str] | None = None) -> None:
    """Print each endpoint's ratio to /live per round and their median, by req/s and by server CPU, and its p99."""
    import argparse

    parser = argparse.ArgumentParser(description="interleaved HTTP rounds against an existing AIME database")
    parser.add_argument("database_url")
    parser.add_argument("--work", type=Path, required=True, help="data dir and gunicorn log")
    parser.add_argument("--only", default="live,ready,health,album list,album detail,journal p1,journal p500")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per window")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                        help="another endpoint to load, e.g. 'play count=/api/v1/history/tracks?page_size=1'")
    args = parser.parse_args(argv)
    extra = [tuple(item.split("=", 1)) for item in args.extra]
    for row in rounds(args.database_url, args.work, args.only.split(","), args.rounds, args.duration, extra=extra):
        if row.get("missing"):
            print(f"{row['name']:14s} missing (404)")
            continue
        if row["name"] == paired.LIVE:
            ratios = [x for r in row["rounds"] for x in r["control_ratios"]]
            cpus = [x for r in row["rounds"] for x in r["control_cpu_ratios"]]
            medians = (row["control_ratio"], row["control_cpu_ratio"])
        else:
            ratios = [r["ratio_to_live"] for r in row["rounds"]]
            cpus = [r["cpu_ratio_to_live"] for r in row["rounds"]]
            medians = (row["ratio_to_live"], row["cpu_ratio_to_live"])
        print(f"{row['name']:14s} rps {row['rps']:8.1f} | ratio {_floats(ratios)} median {_floats(medians[:1])} "
              f"| by CPU {_floats(cpus)} median {_floats(medians[1:])} | cpu ms/req "
              f"{row['server_cpu_ms_per_request']} | p99 ms {row['p99_ms']} (max {row['p99_max_ms']})", flush=True)


def _floats(values) -> str:
    return " ".join("-" if x is None else f"{x:.2f}" for x in values)


if __name__ == "__main__":
    main()
