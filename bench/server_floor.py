"""Server CPU per request and latency of AIME's gunicorn worker itself: a bare WSGI app, then AIME's own paths.

    .venv/bin/python -m bench.server_floor DATABASE_URL --work DIR [--path NAME=PATH ...] [--rounds 3]
    AIME_CODE=/path/to/other/checkout ...   (that checkout's worker and app, e.g. main's for a "before" run)

Each server is started as the bench starts it (tests.support.servers.Gunicorn, the shipped gunicorn.conf.py,
httpbench.server_env: 2 workers x 4 threads): first one serving a bare WSGI app (a fixed 16-byte JSON body, written
to WORK as a module of its own so that any checkout can serve it), then AIME's `wsgi:app` on DATABASE_URL (already
migrated and loaded). Every path is warmed once, then per round: wrk with 1 connection, then wrk -c8, each for
--duration seconds; the server's CPU (every worker thread's schedstat, httpbench.server_cpu_seconds) is read around
each load. Prints one JSON line per measurement (tree, path, connections, requests, rps, p50, p99, server CPU ms per
request, load average), then a summary.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parents[1])
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
if os.environ.get("AIME_CODE"):
    sys.path.insert(0, os.environ["AIME_CODE"])

from bench import httpbench, loadgen  # noqa: E402
from tests.support.servers import ROOT, Gunicorn  # noqa: E402

BARE_APP = '''
BODY = b'{"status": "ok"}'  # 16 bytes


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "16")])
    return [BODY]
'''


def measure(server: Gunicorn, label: str, path: str, connections: int, duration: float) -> dict:
    """One wrk load of `path` and the server CPU it cost."""
    before = httpbench.server_cpu_seconds(server)
    row = loadgen.measure(server.url(path), connections, duration, "wrk")
    cpu = httpbench.server_cpu_seconds(server) - before
    return {"tree": str(ROOT), "name": label, "connections": connections, "requests": row["requests"],
            "rps": row["rps"], "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"], "non_2xx": row["non_2xx"],
            "errors": row["errors"],
            "server_cpu_ms": round(cpu * 1000 / row["requests"], 3) if row["requests"] else None,
            "load": round(os.getloadavg()[0], 2)}


def serve(env: dict, log: Path, app_spec: str, paths: list[tuple[str, str]], args) -> list[dict]:
    """Start one gunicorn serving app_spec, then measure each path, round after round."""
    server = Gunicorn(env, log, app_spec).start(wait_path=paths[0][1], timeout=90)
    rows = []
    try:
        for _label, path in paths:
            loadgen.measure(server.url(path), 1, 1, "wrk")  # warm: kept answers built, threads started
        for _ in range(args.rounds):
            for label, path in paths:
                for connections in args.connections:
                    row = measure(server, label, path, connections, args.duration)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    finally:
        server.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    """Measure the bare app, then AIME's paths; print every row and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--work", type=Path, required=True, help="data dir, logs and the bare app's module")
    parser.add_argument("--path", action="append", default=[], metavar="NAME=PATH",
                        help="an AIME path to measure (default: /live)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=lambda text: [int(x) for x in text.split(",")], default=[1, 8])
    parser.add_argument("--no-bare", action="store_true")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "floor_bare_app.py").write_text(BARE_APP)
    paths = [tuple(item.split("=", 1)) for item in args.path] or [("live", "/live")]
    env = httpbench.server_env(args.database_url, args.work)
    rows = []
    if not args.no_bare:
        bare_env = {**env, "PYTHONPATH": os.pathsep.join([str(args.work), str(ROOT)])}
        rows += serve(bare_env, args.work / "gunicorn-bare.log", "floor_bare_app:app", [("bare", "/")], args)
    rows += serve(env, args.work / "gunicorn-aime.log", "wsgi:app", paths, args)
    for name in dict.fromkeys(row["name"] for row in rows):
        for connections in args.connections:
            mine = [row for row in rows if row["name"] == name and row["connections"] == connections]
            cpu = [r["server_cpu_ms"] for r in mine]
            print(f"{name:12s} c{connections} cpu ms/req {statistics.median(cpu):.3f} (min {min(cpu):.3f}) "
                  f"p50 {statistics.median(r['p50_ms'] for r in mine)} "
                  f"p99 {statistics.median(r['p99_ms'] for r in mine)} (max {max(r['p99_ms'] for r in mine)}) "
                  f"rps {statistics.median(r['rps'] for r in mine)}", flush=True)


if __name__ == "__main__":
    main()
