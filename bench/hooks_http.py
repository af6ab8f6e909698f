"""Server CPU per request under the shipped gunicorn, one connection: AIME's endpoints and a bare WSGI app.

    .venv/bin/python bench/hooks_http.py DATABASE_URL --work DIR [--path NAME=PATH ...] [--rounds R] [--duration S]
        [--bare]
    AIME_CODE=/path/to/other/checkout OTHER/.venv/bin/python bench/hooks_http.py ...   (serve that checkout)

Starts gunicorn from the served checkout's gunicorn.conf.py (2 workers x 4 threads, bench/httpbench.py's
server_env), loads each path with one keep-alive connection (wrk when installed, else bench/loadgen.py) for S
seconds, R rounds in turn, and prints requests/s, p50 and the server's CPU (the whole process tree, from /proc) per
request. With --bare it does the same first for a bare WSGI app (a fixed 16-byte JSON body) under the same worker
class and settings: the server's own floor.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(os.environ.get("AIME_CODE") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.httpbench import server_cpu_seconds, server_env  # noqa: E402
from tests.support.servers import Gunicorn  # noqa: E402

BARE_APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "16")])
    return [b'{"status":"ok"}\\n']
'''


def load(server: Gunicorn, paths: list[tuple[str, str]], rounds: int, duration: float) -> dict[str, list[dict]]:
    """Each path in turn, `rounds` times: rps, p50 and server CPU ms per request."""
    seen: dict[str, list[dict]] = {name: [] for name, _path in paths}
    for _round in range(rounds):
        for name, path in paths:
            before = server_cpu_seconds(server)
            row = loadgen.measure(server.url(path), 1, duration)
            cpu = server_cpu_seconds(server) - before
            row["cpu_ms"] = cpu * 1000 / row["requests"] if row["requests"] else float("nan")
            seen[name].append(row)
    return seen


def report(label: str, seen: dict[str, list[dict]]) -> None:
    """One line per path: every round, then min / median."""
    for name, rows in seen.items():
        cpus = [row["cpu_ms"] for row in rows]
        print(f"{label:8s} {name:14s} cpu ms/req {' '.join(f'{x:.3f}' for x in cpus)} min {min(cpus):.3f} "
              f"med {statistics.median(cpus):.3f} | rps {' '.join(str(round(r['rps'])) for r in rows)} | p50 ms "
              f"{' '.join(str(r['p50_ms']) for r in rows)}", flush=True)


def main() -> None:
    """Run the bare app (optionally), then AIME, and print both."""
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--path", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--bare", action="store_true")
    args = parser.parse_args()
    paths = [tuple(item.split("=", 1)) for item in args.path] or [("live", "/live")]
    args.work.mkdir(parents=True, exist_ok=True)
    env = server_env(args.database_url, args.work)
    if args.bare:
        module_dir = tempfile.mkdtemp(prefix="bare-wsgi-", dir=args.work)
        Path(module_dir, "bare_wsgi.py").write_text(BARE_APP)
        bare = Gunicorn({**env, "PYTHONPATH": module_dir}, args.work / "gunicorn-bare.log", "bare_wsgi:app")
        bare.start(wait_path="/", timeout=90)
        try:
            report("bare", load(bare, [("bare", "/")], args.rounds, args.duration))
        finally:
            bare.stop()
    server = Gunicorn(env, args.work / "gunicorn.log").start(wait_path="/live", timeout=90)
    try:
        for _name, path in paths:
            loadgen.measure(server.url(path), 1, 0.5)  # warm every worker's kept answer
        report(ROOT.name, load(server, paths, args.rounds, args.duration))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
