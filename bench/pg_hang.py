"""PostgreSQL that hangs: how long requests take to be answered, and what the bound costs a healthy database.

    .venv/bin/python bench/pg_hang.py hang ADMIN_URL [CLIENT_TIMEOUT] [AIME_TIMEOUT]
    .venv/bin/python bench/pg_hang.py cpu DATABASE_URL [REQUESTS] [ROUNDS]
    AIME_CODE=/path/to/other/checkout ...   (that checkout's aime, e.g. main's for a "before" run)

`hang`: a fresh migrated database (under ADMIN_URL's server) behind the tests' pausing proxy, gunicorn with one
worker of 4 threads and AIME_TIMEOUT=3 (or as given); the proxy freezes (stops forwarding, closes nothing),
then 4 requests at once (3 reads of /api/v1/collection/albums, /health with the API token), twice, and /live;
then it thaws, and the time until a read answers 200 again. Prints each request's status and seconds ("no
answer" past CLIENT_TIMEOUT, default 60 s).

`cpu`: REQUESTS GET /api/v1/collection/albums with the API token (throttle read, pool ping, data version, the
query) per round in this process through Flask's test client, on a migrated DATABASE_URL; prints the minimum and
median over ROUNDS of `time.process_time` per request.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TOKEN = "bench-token-" + "x1y2z3" * 6
ALBUMS = "/api/v1/collection/albums"


def hang(admin_url: str, client_timeout: float, deadline: str = "3") -> None:
    import requests

    from tests.resilience.test_postgres_hang import PausingPostgres
    from tests.support import servers
    from tests.support.servers import Gunicorn, migrate

    if os.environ.get("AIME_CODE"):
        servers.ROOT = Path(os.environ["AIME_CODE"])  # gunicorn and the migration start in (and import) that checkout

    database = PausingPostgres(_fresh_database(admin_url))
    work = Path(tempfile.mkdtemp(prefix="pg-hang-"))
    (work / "data").mkdir()
    env = {"AIME_DATA_DIR": str(work / "data"), "AIME_API_TOKEN": TOKEN, "AIME_WORKERS": "1", "AIME_THREADS": "4",
           "AIME_TIMEOUT": deadline, "AIME_HEALTH_CHECK_TIMEOUT": "0.8", "AIME_HEALTH_FAILURE_TTL": "0.5",
           "AIME_HEALTH_SUCCESS_TTL": "2", "AIME_DISK_MIN_FREE_MB": "0", "DATABASE_URL": database.url,
           "AIME_STARTUP_DB_WAIT_SECONDS": "1", "AIME_HEALTH_DETAILS": "token"}
    if os.environ.get("AIME_CODE"):
        env["PYTHONPATH"] = os.environ["AIME_CODE"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    migrate(env)
    server = Gunicorn(env, work / "gunicorn.log", "wsgi:app").start(wait_path="/ready")

    def get(path: str, headers=None) -> str:
        began = time.monotonic()
        try:
            status = requests.get(server.url(path), headers={"Connection": "close", **(headers or {})},
                                  timeout=client_timeout).status_code
        except requests.RequestException:
            return f"{path}: no answer within {client_timeout:g}s"
        return f"{path}{' (token)' if headers else ''}: {status} in {time.monotonic() - began:.2f}s"

    try:
        requests.post(server.url(ALBUMS), json={"title": "Hang", "artists": ["Bench"]}, headers=auth, timeout=30)
        print(get(ALBUMS), get("/health", auth), sep="\n")
        database.proxy.freeze()
        print("-- frozen")
        time.sleep(3.5)  # the health checks' last results age past TTL + deadline
        for wave in (1, 2):
            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(lambda p: get(p, auth if p == "/health" else None),
                                        [ALBUMS, ALBUMS, ALBUMS, "/health"]))
            print(f"wave {wave}:", "; ".join(answers))
        print(get("/live"), get("/health"), sep="\n")
        database.proxy.thaw()
        thawed = time.monotonic()
        print("-- thawed")
        while "200" not in (answer := get(ALBUMS)) and time.monotonic() < thawed + client_timeout:
            time.sleep(0.2)
        print(f"{answer}; 200 again {time.monotonic() - thawed:.2f}s after the thaw")
    finally:
        database.proxy.thaw()
        server.stop()
        database.drop()


def _fresh_database(admin_url: str) -> str:
    from tests.conftest import make_postgres_database

    return make_postgres_database(admin_url)


def cpu(url: str, count: int, rounds: int) -> None:
    if os.environ.get("AIME_CODE"):
        sys.path.insert(0, os.environ["AIME_CODE"])
    from aime import create_app

    work = tempfile.mkdtemp(prefix="pg-hang-cpu-")
    app = create_app({"DATABASE_URL": url, "AIME_DATA_DIR": work, "AIME_API_TOKEN": TOKEN, "AIME_PRIVATE": "1",
                      "AIME_DISK_MIN_FREE_MB": "0"})
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client.post(ALBUMS, json={"title": "Hang", "artists": ["Bench"]}, headers=auth)
    per_request = []
    for _round in range(rounds):
        began = time.process_time()
        for _ in range(count):
            response = client.get(ALBUMS, headers=auth)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
        per_request.append((time.process_time() - began) / count * 1000)
    print(f"CPU per request: min {min(per_request):.3f} ms, median {statistics.median(per_request):.3f} ms "
          f"({rounds} rounds of {count}; load {Path('/proc/loadavg').read_text().split()[0]})")


def main() -> None:
    """Parse the command line (see the module's docstring) and run the mode asked for."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    hang_mode = modes.add_parser("hang", help="a frozen database behind the pausing proxy")
    hang_mode.add_argument("admin_url")
    hang_mode.add_argument("client_timeout", nargs="?", type=float, default=60.0)
    hang_mode.add_argument("aime_timeout", nargs="?")
    cpu_mode = modes.add_parser("cpu", help="CPU per request on a healthy database")
    cpu_mode.add_argument("database_url")
    cpu_mode.add_argument("requests", nargs="?", type=int, default=500)
    cpu_mode.add_argument("rounds", nargs="?", type=int, default=5)
    args = parser.parse_args()
    if args.mode == "hang":
        hang(args.admin_url, args.client_timeout, *([args.aime_timeout] if args.aime_timeout else []))
    else:
        cpu(args.database_url, args.requests, args.rounds)


if __name__ == "__main__":
    main()
