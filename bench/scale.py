"""Two AIME instances behind one port: nginx in front, PostgreSQL behind (issue #18, item 6).

    .venv/bin/python bench/scale.py                      # 200,000 plays, ~5 minutes
    .venv/bin/python bench/scale.py --rows 500 --tiny    # the smoke test's run, about two minutes

On a fresh PostgreSQL database (created here, dropped at the end) loaded by the real importer, it starts
instance A and instance B (each `gunicorn -c gunicorn.conf.py wsgi:app`, 2 workers x 4 threads, own port
and own data directory, one database), writes an nginx configuration (an upstream of the instances,
forwarding headers, AIME_TRUSTED_PROXIES=127.0.0.1) and runs nginx in the foreground with its own prefix,
pid and logs under a temporary directory (never the system nginx). Then:

1. the read mix straight to A, through nginx to A alone, through nginx to A and B: requests/s and
   p50/p99 per endpoint, and all the API endpoints loaded at once (the "mix" row);
2. the client address behind the proxy: a client on 127.0.0.2 forging X-Forwarded-For is audited and
   throttled as 127.0.0.2 by both instances, and 127.0.0.3 is not locked out by it;
3. one import file submitted twice at once through nginx (one upload lands on each instance): its plays
   are stored once;
4. the scheduler started through nginx with two tasks due every minute: each scheduled occurrence runs
   exactly once across the two instances (task_runs), in the instance holding the scheduler lease.

Prints the tables and writes bench/results/<date>-scale-<rows>.json. Load only ever targets 127.0.0.x.
"""
from __future__ import annotations

import argparse
import csv
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import httpbench, importbench, loadgen, make_dataset  # noqa: E402
from bench.run import DEFAULT_PG, ensure_dataset, machine, revision  # noqa: E402
from aime.jobs.tasks import OUTPUT_DIR  # noqa: E402
from tests.support.servers import free_port, migrate, wait_for  # noqa: E402

TOKEN = "bench-scale-token-0123456789abcdef0123456789"
SECRET = "bench-secret-key-0123456789abcdef0123456789"
# The API endpoints of the read mix (the probes are measured alone, not in the mix).
MIX = ("album list", "album detail", "journal p1", "journal p500", "timeline day", "stats year",
       "top artists all-time", "search")
SCHEDULED = ("export_json", "export_markdown")
TINY_SET = ("live", "album detail", "journal p1", "stats year")  # --tiny: enough to exercise every step
NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def nginx_binary() -> str | None:
    """Path of an nginx executable, or None when nginx is not installed."""
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def nginx_config(prefix: Path, port: int, upstreams: list[int]) -> str:
    """An nginx.conf serving 127.0.0.1:port from the AIME instances on `upstreams` (all paths under prefix)."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams)
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
    return f"""# Written by bench/scale.py; the same shape as docs/deploy.md "Two instances behind one port".
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
{temp}
    log_format upstream '$remote_addr "$request" $status $upstream_addr $request_time';
    access_log {prefix}/access.log upstream buffer=64k flush=1s;
    keepalive_requests 100000;
    client_max_body_size 1024m;          # AIME_MAX_UPLOAD_MB; AIME itself refuses bigger uploads
    proxy_read_timeout 90s;              # longer than AIME_TIMEOUT (75 s): AIME answers its own 503 first
    upstream aime {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://aime;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout;   # a stopped instance refuses: the request goes to the other
            proxy_request_buffering off;         # uploads stream to AIME, which spools them itself
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


class Nginx:
    """nginx in the foreground as our child, with its own prefix (config, pid, logs, temp files)."""

    def __init__(self, binary: str, prefix: Path):
        self.binary, self.prefix = binary, prefix
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, upstreams: list[int]) -> Nginx:
        """Write the configuration for these upstream ports, check it, start nginx and wait for it."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(nginx_config(self.prefix, self.port, upstreams))
        command = [self.binary, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"), "-c", str(conf)]
        subprocess.run(command + ["-t", "-q"], check=True, capture_output=True)
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_for(self.base_url + "/live", timeout=30, proc=self.proc)
        return self

    def stop(self) -> None:
        """Graceful stop (SIGQUIT: finish the requests in flight), then wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def url(self, path: str) -> str:
        """Absolute URL of a path through nginx."""
        return self.base_url + path


@contextmanager
def nginx_in_front(binary: str, prefix: Path, upstreams: list[int]) -> Iterator[Nginx]:
    """nginx balancing over `upstreams` for the block."""
    proxy = Nginx(binary, prefix).start(upstreams)
    try:
        yield proxy
    finally:
        proxy.stop()


@contextmanager
def scratch_database(admin_url: str, name: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the block (re-created if left over), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load_database(url: str, csv_path: Path, collection: Path, work: Path, timeout: float) -> dict:
    """Migrate, import the plays and the collection with the real importer, then ANALYZE (setup, not measured)."""
    from sqlalchemy import create_engine, text

    env = {**os.environ, "DATABASE_URL": url, "AIME_DATA_DIR": str(work / "cli"), "AIME_LOG_LEVEL": "warning"}
    migrate(env)
    plays = importbench.measure_import(csv_path, env, work / "import.log", timeout)
    owned = importbench.run_child(importbench.flask_command("import", str(collection)), env,
                                  work / "import-collection.log", timeout)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))  # fresh planner statistics, as after any bulk load
    finally:
        engine.dispose()
    if plays["exit_code"] != 0 or owned["exit_code"] != 0:
        raise RuntimeError(f"loading failed; see {work}/import*.log")
    return {"import": plays, "collection_owned": importbench.count_owned(url)}


def instance_env(url: str, data_dir: Path) -> dict[str, str]:
    """One instance: 2 workers x 4 threads as shipped; the proxy on 127.0.0.1 trusted; shared token and key."""
    return httpbench.server_env(url, data_dir, AIME_TRUSTED_PROXIES="127.0.0.1/32", SECRET_KEY=SECRET,
                                AIME_API_TOKEN=TOKEN, AIME_SERVICE_LEASE_SECONDS="6")


class _Pids:
    """What httpbench.server_cpu_seconds needs: an object whose proc.pid is a master."""

    def __init__(self, pid: int):
        self.proc = type("P", (), {"pid": pid})()


def cpu_seconds(masters: list[int]) -> float:
    """CPU seconds used so far by the children (workers) of these master processes."""
    return sum(httpbench.server_cpu_seconds(_Pids(pid)) for pid in masters)


def measure_endpoints(base_url: str, endpoints: list[tuple[str, str]], args, aime_masters: list[int],
                      nginx_master: int | None) -> list[dict]:
    """Each endpoint alone (warmed once), at args.connections; server CPU per request beside the numbers."""
    rows = []
    for name, path in endpoints:
        status = requests.get(base_url + path, timeout=120).status_code
        aime_before, nginx_before = cpu_seconds(aime_masters), cpu_seconds([nginx_master] if nginx_master else [])
        row = {"name": name, "path": path, "status": status,
               **loadgen.measure(base_url + path, args.connections, args.duration, args.loadgen)}
        done = row["requests"] or 1
        row["aime_cpu_ms_per_request"] = round((cpu_seconds(aime_masters) - aime_before) * 1000 / done, 2)
        if nginx_master:
            row["nginx_cpu_ms_per_request"] = round(
                (cpu_seconds([nginx_master]) - nginx_before) * 1000 / done, 3)
        rows.append(row)
    return rows


def measure_mix(base_url: str, endpoints: list[tuple[str, str]], duration: float, tool: str) -> dict:
    """Every API endpoint of the mix loaded at once, one connection each: total requests/s, worst p99."""
    paths = [path for name, path in endpoints if name in MIX]
    results: list[dict] = [{} for _ in paths]

    def one(index: int) -> None:
        results[index] = loadgen.measure(base_url + paths[index], 1, duration, tool)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(paths))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 120)
    return {"name": "mix", "connections": len(paths), "requests": sum(r["requests"] for r in results),
            "rps": round(sum(r["rps"] for r in results), 1),
            "p50_ms_median": sorted(r["p50_ms"] for r in results)[len(results) // 2],
            "p99_ms_worst": max(r["p99_ms"] for r in results),
            "non_2xx": sum(r["non_2xx"] for r in results), "errors": sum(r["errors"] for r in results)}


def upstream_counts(access_log: Path, since_line: int) -> tuple[dict[str, int], int]:
    """Requests per upstream address in nginx's access log after line `since_line`; and the new line count."""
    lines = access_log.read_text().splitlines() if access_log.exists() else []
    counts: dict[str, int] = {}
    for line in lines[since_line:]:
        upstream = line.split()[-2]
        counts[upstream] = counts.get(upstream, 0) + 1
    return counts, len(lines)


def read_pass(label: str, base_url: str, endpoints, args, aime_masters, proxy: Nginx | None) -> dict:
    """One pass of the read mix against base_url; with nginx, how the requests were spread."""
    access_log = proxy.prefix / "access.log" if proxy else None
    before = upstream_counts(access_log, 0)[1] if access_log else 0
    print(f"[scale] read mix: {label}", file=sys.stderr, flush=True)
    rows = measure_endpoints(base_url, endpoints, args, aime_masters, proxy.proc.pid if proxy else None)
    mix = measure_mix(base_url, endpoints, args.mix_duration, args.loadgen)
    result = {"label": label, "endpoints": rows, "mix": mix, "load_average": [round(x, 2) for x in os.getloadavg()]}
    if access_log:
        time.sleep(1.2)  # the access log is buffered, flushed every second
        result["requests_per_upstream"] = upstream_counts(access_log, before)[0]
    return result


def interleaved_mix(binary: str, work: Path, ports: dict[str, int], endpoints, args) -> dict:
    """The mix through nginx to A, then to A + B, alternately `args.rounds` times: drift on a shared machine
    hits both alike. Requests/s of each round, and the median."""
    rounds: dict[str, list[float]] = {"nginx -> A": [], "nginx -> A + B": []}
    for _ in range(args.rounds):
        for label, names in (("nginx -> A", ["A"]), ("nginx -> A + B", ["A", "B"])):
            with nginx_in_front(binary, work / "nginx", [ports[n] for n in names]) as proxy:
                rounds[label].append(measure_mix(proxy.base_url, endpoints, args.mix_duration, args.loadgen)["rps"])
    medians = {label: sorted(values)[len(values) // 2] for label, values in rounds.items()}
    one, two = medians["nginx -> A"], medians["nginx -> A + B"]
    return {"rounds": rounds, "median_rps": medians, "two_over_one": round(two / one, 2) if one else None}


# --- the client address behind the proxy ---------------------------------------------------------------

def request_from(source: str, port: int, method: str, path: str, headers: dict) -> tuple[int, str]:
    """One request to 127.0.0.1:port sent from the loopback address `source`; (status, X-Upstream)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Upstream", "")
    finally:
        conn.close()


def client_address_check(proxy: Nginx, logs: dict[str, Path], failures_allowed: int = 5) -> dict:
    """A client on 127.0.0.2 forging X-Forwarded-For: audited and throttled under its own address on both instances."""
    forged = {"Authorization": "Bearer wrong-token", "X-Forwarded-For": "198.51.100.7"}
    path = "/api/v1/services/scheduler/stop"  # a write: always needs the token (stopping a stopped one is harmless)
    wrong = [request_from("127.0.0.2", proxy.port, "POST", path, forged) for _ in range(failures_allowed + 1)]
    other = request_from("127.0.0.3", proxy.port, "POST", path, {"Authorization": f"Bearer {TOKEN}"})
    time.sleep(0.5)
    per_log = {name: [line for line in log.read_text(errors="replace").splitlines() if "audit: " in line
                      and path in line] for name, log in logs.items()}
    audited = [line for lines in per_log.values() for line in lines]
    return {"audit_lines_per_instance": {name: len(lines) for name, lines in per_log.items()},
            "statuses_127_0_0_2": [status for status, _ in wrong],
            "upstreams_127_0_0_2": sorted({upstream for _, upstream in wrong}),
            "status_127_0_0_3_right_token": other[0],
            "audit_lines": len(audited),
            "audit_lines_naming_127_0_0_2": sum("from 127.0.0.2:" in line for line in audited),
            "audit_lines_naming_forged_or_proxy": sum(("198.51.100.7" in line or "from 127.0.0.1:" in line)
                                                      for line in audited)}


# --- one import submitted twice ------------------------------------------------------------------------

def write_probe_csv(path: Path, rows: int, after: int) -> Path:
    """A Last.fm-style CSV of `rows` plays of a probe artist, all after `after` (absent from the dataset)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"])
        for i in reversed(range(rows)):
            played_at = after + 86_400 + i * 600
            writer.writerow([played_at, time.strftime("%d %b %Y, %H:%M", time.gmtime(played_at)), "Scale Probe",
                             "", f"Probe Album {i % 10}", "", f"Probe Track {i % 50}", ""])
    return path


def submit_twice(proxy: Nginx, probe: Path, url: str, timeout: float = 300) -> dict:
    """POST the same file twice at once through nginx; wait for both jobs; the plays must be stored once."""
    before = importbench.count_rows(url)
    answers: list[dict] = [{}, {}]

    def post(index: int) -> None:
        with open(probe, "rb") as handle:
            response = requests.post(proxy.url("/api/v1/imports"), files={"file": (probe.name, handle, "text/csv")},
                                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
        answers[index] = {"status": response.status_code, "upstream": response.headers.get("X-Upstream"),
                          "job": response.json().get("id")}

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(150)
    jobs = [wait_for_job(proxy, answer["job"], timeout) for answer in answers]
    after = importbench.count_rows(url)
    return {"uploads": answers, "plays_in_file": sum(1 for _ in open(probe, encoding="utf-8")) - 1,
            "listens_added": after - before,
            "jobs": [{k: job.get(k) for k in ("id", "status", "processed", "imported", "duplicates")} for job in jobs]}


def wait_for_job(proxy: Nginx, job_id: int, timeout: float) -> dict:
    """Poll one import job (through nginx, so either instance answers) until it is no longer queued/running."""
    deadline = time.monotonic() + timeout
    while True:
        job = requests.get(proxy.url(f"/api/v1/imports/{job_id}"), headers={"Authorization": f"Bearer {TOKEN}"},
                           timeout=30).json()
        if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


# --- scheduled tasks run once --------------------------------------------------------------------------

def api(proxy: Nginx, method: str, path: str, body: dict | None = None) -> dict:
    """A token-holding API call through nginx; the decoded answer (raises on an HTTP error)."""
    response = requests.request(method, proxy.url("/api/v1" + path), json=body, timeout=60,
                                headers={"Authorization": f"Bearer {TOKEN}"})
    response.raise_for_status()
    return response.json()


def schedule_every_minute(proxy: Nginx, timeout: float = 60) -> int:
    """SCHEDULED due every minute, every other task off, the scheduler started; the first minute it will run."""
    tasks = api(proxy, "GET", "/services/scheduler/config")["tasks"]
    changes = [{"name": t["name"], "cron": "* * * * *" if t["name"] in SCHEDULED else t["cron"], "timezone": "UTC",
                "enabled": t["name"] in SCHEDULED} for t in tasks]
    api(proxy, "PATCH", "/services/scheduler/config", {"max_files_per_type": 1000, "tasks": changes})
    api(proxy, "POST", "/services/scheduler/start")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # the holder publishes its jobs' next runs once it loaded them
        next_runs = api(proxy, "GET", "/services/scheduler/status")["state"].get("next_runs") or {}
        if set(next_runs) == set(SCHEDULED) and all(next_runs.values()):
            return min(int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()) for v in next_runs.values())
        time.sleep(0.5)
    raise RuntimeError("the scheduler did not load the every-minute schedule")


def scheduled_runs(url: str) -> list[tuple[str, int, str]]:
    """(task, started_at, status) of every scheduled (not manual) task run."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(
                "SELECT task, started_at, status FROM task_runs WHERE trigger = 'schedule' ORDER BY started_at"))]
    finally:
        engine.dispose()


def owner_instance(holder: str | None, masters: dict[str, int]) -> str | None:
    """Which instance (A/B) a lease owner "host:pid:random" is a worker of."""
    if not holder:
        return None
    pid = int(holder.split(":")[-2])
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return next((name for name, master in masters.items() if master in (pid, parent)), None)


def judge_runs(runs: list[tuple[str, int, str]], boundaries: list[int]) -> dict:
    """Per task: runs per minute in the window (each must be 1) and any minute that ran more than once."""
    per_task = {}
    for task in SCHEDULED:
        minutes: dict[int, int] = {}
        for name, started, _status in runs:
            if name == task:
                minutes[started // 60 * 60] = minutes.get(started // 60 * 60, 0) + 1
        per_task[task] = {"runs_per_occurrence": [minutes.get(b, 0) for b in boundaries],
                          "minutes_run_twice": sorted(m for m, n in minutes.items() if n > 1),
                          "runs_per_minute": {datetime.fromtimestamp(m, UTC).strftime("%H:%M"): n
                                              for m, n in sorted(minutes.items())}}
    return per_task


class Holders:
    """The scheduler lease holders seen, in order, as "A (host:pid:random)"."""

    def __init__(self, proxy: Nginx, masters: dict[str, int]):
        self.proxy, self.masters, self.seen = proxy, masters, []

    def look(self) -> str | None:
        """The instance (A/B) holding the scheduler lease now, or None."""
        holder = api(self.proxy, "GET", "/services/scheduler/status").get("holder")
        name = owner_instance(holder, self.masters)
        if holder and f"{name} ({holder})" not in self.seen:
            self.seen.append(f"{name} ({holder})")
        return name


def wait_for_minute(url: str, boundary: int, holders: Holders) -> None:
    """Until every SCHEDULED task's run of this minute finished (or 50 s past it)."""
    while time.time() < boundary + 50:
        holders.look()
        done = {task for task, started, status in scheduled_runs(url) if started >= boundary and status != "running"}
        if time.time() > boundary and done == set(SCHEDULED):
            return
        time.sleep(2)


def stop_the_holder(proxy: Nginx, servers: dict, holders: Holders, args) -> dict:
    """SIGTERM the instance running the scheduler while reads go through nginx; wait for the other to take over."""
    deadline = time.monotonic() + 30
    stopped = holders.look()
    while stopped is None and time.monotonic() < deadline:
        time.sleep(0.5)
        stopped = holders.look()
    load: dict = {}
    reader = threading.Thread(target=lambda: load.update(loadgen.measure(
        proxy.url("/api/v1/collection/albums"), 2, args.failover_duration, args.loadgen)))
    reader.start()
    time.sleep(min(1.0, args.failover_duration / 4))
    began = time.monotonic()
    exit_code = servers[stopped].stop()
    taken, successor = None, None
    while time.monotonic() < began + 60:
        successor = holders.look()
        if successor not in (None, stopped):
            taken = round(time.monotonic() - began, 1)
            break
        time.sleep(0.3)
    reader.join(args.failover_duration + 120)
    return {"stopped": stopped, "exit_code": exit_code, "successor": successor, "taken_over_after_s": taken,
            "reads_meanwhile": {k: load.get(k) for k in ("requests", "non_2xx", "errors", "p99_ms")}}


def scheduled_once(proxy: Nginx, url: str, servers: dict, data_dirs: dict[str, Path], args) -> dict:
    """Minutes with the scheduler on; its holder stopped before the last one: every occurrence must run once."""
    holders = Holders(proxy, {name: server.proc.pid for name, server in servers.items()})
    first = schedule_every_minute(proxy)
    boundaries = [first + 60 * i for i in range(args.occurrences)]
    print(f"[scale] scheduler: {args.occurrences} minute(s) from {datetime.fromtimestamp(first, UTC):%H:%M} UTC, "
          "the holder stopped before the last", file=sys.stderr, flush=True)
    for boundary in boundaries[:-1]:
        wait_for_minute(url, boundary, holders)
    failover = stop_the_holder(proxy, servers, holders, args)
    # The successor schedules from when it took over: a boundary passed meanwhile belongs to no one.
    boundaries[-1] = max(boundaries[-1], math.ceil((time.time() + 2) / 60) * 60)
    wait_for_minute(url, boundaries[-1], holders)
    time.sleep(3)  # a duplicate, if any, would be recorded by now
    runs = scheduled_runs(url)
    api(proxy, "POST", "/services/scheduler/stop")
    files = {name: sorted(p.name for p in (d / OUTPUT_DIR).glob("*")) if (d / OUTPUT_DIR).is_dir() else []
             for name, d in data_dirs.items()}
    return {"occurrences": args.occurrences,
            "boundaries": [datetime.fromtimestamp(b, UTC).strftime("%H:%M") for b in boundaries],
            "tasks": judge_runs(runs, boundaries), "statuses": sorted({r[2] for r in runs}),
            "lease_holders": holders.seen, "failover": failover,
            "output_files_per_instance": {name: len(names) for name, names in files.items()}}


# --- the run -------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (defaults: the documented run)."""
    parser = argparse.ArgumentParser(description="two AIME instances behind nginx, on PostgreSQL")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tiny", action="store_true", help="the smoke test's run: 0.3 s loads, one occurrence")
    parser.add_argument("--duration", type=float, default=None, help="seconds per endpoint (default 3)")
    parser.add_argument("--mix-duration", type=float, default=None, help="seconds of the whole mix (default 8)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--failover-duration", type=float, default=8.0,
                        help="seconds of reads through nginx while the scheduler's instance stops")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved mix rounds, 1 and 2 instances (3)")
    parser.add_argument("--occurrences", type=int, default=None, help="scheduled minutes to judge (default 2)")
    parser.add_argument("--probe-rows", type=int, default=None, help="plays in the file submitted twice (2,000)")
    parser.add_argument("--postgres-url", default=os.environ.get("AIME_BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--postgres-db", default=f"aime_bench_scale_{os.getpid()}",
                        help="scratch database, dropped at the end (default: one per run, so runs never share it)")
    parser.add_argument("--data-dir", type=Path, default=make_dataset.DEFAULT_OUT)
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep logs here (default: temp)")
    parser.add_argument("--import-timeout", type=float, default=600)
    args = parser.parse_args(argv)
    args.duration = args.duration or (0.3 if args.tiny else 3.0)
    args.mix_duration = args.mix_duration or (0.5 if args.tiny else 8.0)
    args.occurrences = args.occurrences or (1 if args.tiny else 2)
    args.rounds = args.rounds or (1 if args.tiny else 3)
    args.probe_rows = args.probe_rows or (100 if args.tiny else 2_000)
    return args


def run(args, work: Path, binary: str) -> dict:
    """Load the database, start A, B and nginx, measure, prove the jobs; the report."""
    report: dict = {"load_average": {"start": [round(x, 2) for x in os.getloadavg()]}, "phase_seconds": {}}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:  # seconds since the previous lap, and the load average then
        report["phase_seconds"][name] = round(time.perf_counter() - clock[0], 1)
        report["load_average"][name] = [round(x, 2) for x in os.getloadavg()]
        clock[0] = time.perf_counter()

    meta = ensure_dataset(args.rows, args.seed, args.data_dir)
    report["dataset"] = {k: meta[k] for k in ("listens", "artists", "albums", "tracks")}
    with scratch_database(args.postgres_url, args.postgres_db) as url, ExitStack() as stack:
        print("[scale] loading PostgreSQL", file=sys.stderr, flush=True)
        report["setup"] = load_database(url, args.data_dir / meta["files"]["csv"],
                                        args.data_dir / meta["files"]["collection"], work, args.import_timeout)
        lap("dataset and load")
        targets = httpbench.pick_targets(url)
        dirs = {"A": work / "instance-a", "B": work / "instance-b"}
        servers = {name: stack.enter_context(httpbench.running(instance_env(url, d), work / f"gunicorn-{name}.log"))
                   for name, d in dirs.items()}
        masters = {name: s.proc.pid for name, s in servers.items()}
        top = httpbench.choose_top_artists(servers["A"].base_url)
        endpoints = [e for e in httpbench.endpoint_set(targets, top) if not args.tiny or e[0] in TINY_SET]
        ports = {name: s.port for name, s in servers.items()}
        report["instances"] = {name: {"port": ports[name], "data_dir": str(d)} for name, d in dirs.items()}
        passes = [read_pass("A direct (no proxy)", servers["A"].base_url, endpoints, args, [masters["A"]], None)]
        for label, names in (("nginx -> A", ["A"]), ("nginx -> A + B", ["A", "B"])):
            with nginx_in_front(binary, work / "nginx", [ports[n] for n in names]) as proxy:
                passes.append(read_pass(label, proxy.base_url, endpoints, args, [masters[n] for n in names], proxy))
        report["passes"] = passes
        print("[scale] the mix, one and two instances alternately", file=sys.stderr, flush=True)
        report["mix_interleaved"] = interleaved_mix(binary, work, ports, endpoints, args)
        lap("instances and reads")
        with nginx_in_front(binary, work / "nginx", [ports["A"], ports["B"]]) as proxy:
            report["nginx_config"] = (proxy.prefix / "nginx.conf").read_text()
            print("[scale] client address behind the proxy", file=sys.stderr, flush=True)
            report["client_address"] = client_address_check(proxy, {name: s.log_path for name, s in servers.items()})
            print("[scale] one import submitted twice", file=sys.stderr, flush=True)
            probe = write_probe_csv(work / "recenttracks-scale-probe.csv", args.probe_rows, meta["last_played_at"])
            report["import_twice"] = submit_twice(proxy, probe, url)
            lap("client address and import")
            report["scheduler"] = scheduled_once(proxy, url, servers, dirs, args)
            lap("scheduler")
    report["verdicts"] = verdicts(report)
    return report


def verdicts(report: dict) -> dict[str, bool]:
    """The yes/no claims of the run (the numbers are context, never judged)."""
    client, twice, sched = report["client_address"], report["import_twice"], report["scheduler"]
    jobs = twice["jobs"]
    two = report["passes"][-1]
    failover = sched["failover"]
    reads = failover["reads_meanwhile"]
    return {
        "both instances served the two-instance pass": len(two.get("requests_per_upstream", {})) == 2,
        "every read answered 2xx": all(r["non_2xx"] == 0 and r["errors"] == 0 for p in report["passes"]
                                       for r in p["endpoints"] + [p["mix"]]),
        "client 127.0.0.2 throttled under its own address on both instances":
            client["statuses_127_0_0_2"] == [401] * 5 + [429] and client["audit_lines_naming_forged_or_proxy"] == 0
            and client["audit_lines_naming_127_0_0_2"] == client["audit_lines"] == 6
            and all(client["audit_lines_per_instance"].values()),
        "another client (127.0.0.3) not locked out": client["status_127_0_0_3_right_token"] == 200,
        "the two uploads landed on different instances": len({u["upstream"] for u in twice["uploads"]}) == 2,
        "the file's plays stored once": twice["listens_added"] == twice["plays_in_file"]
            and sum(j["imported"] for j in jobs) == twice["plays_in_file"]
            and all(j["status"] == "done" and j["processed"] == twice["plays_in_file"] for j in jobs),
        "each scheduled occurrence ran exactly once": all(
            t["runs_per_occurrence"] == [1] * sched["occurrences"] and not t["minutes_run_twice"]
            for t in sched["tasks"].values()) and sched["statuses"] == ["success"],
        "the other instance took the scheduler over when its holder stopped":
            failover["successor"] not in (None, failover["stopped"]) and failover["exit_code"] == 0,
        "no read failed through nginx while that instance stopped":
            reads["requests"] > 0 and reads["non_2xx"] == 0 and reads["errors"] == 0,
    }


def render(report: dict) -> str:
    """The report as Markdown (pasted into docs/benchmarks.md)."""
    m = report["machine"]
    passes = report["passes"]
    lines = [f"### Two instances behind nginx, {report['dataset']['listens']:,} plays on PostgreSQL "
             f"({report['started_at']}, revision {report['revision']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores; load average {report['load_average']}.", "",
             "| endpoint | " + " | ".join(f"{p['label']} req/s (p50 / p99 ms)" for p in passes) + " |",
             "|---|" + "---:|" * len(passes)]
    for i, row in enumerate(passes[0]["endpoints"]):
        cells = [f"{p['endpoints'][i]['rps']:,.1f} ({p['endpoints'][i]['p50_ms']:g} / {p['endpoints'][i]['p99_ms']:g})"
                 for p in passes]
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    lines.append("| **mix** (8 API endpoints at once) | " + " | ".join(
        f"**{p['mix']['rps']:,.1f}** ({p['mix']['p50_ms_median']:g} / {p['mix']['p99_ms_worst']:g})"
        for p in passes) + " |")
    mixed = report["mix_interleaved"]
    lines += ["", f"The mix alternately through nginx to A and to A + B, {len(mixed['rounds']['nginx -> A'])} rounds: "
              + "; ".join(f"{label} {values} req/s (median {mixed['median_rps'][label]})"
                          for label, values in mixed["rounds"].items()) + f"; two / one = {mixed['two_over_one']}."]
    lines += ["", "Requests per upstream: " + "; ".join(
        f"{p['label']}: {p['requests_per_upstream']}" for p in passes if "requests_per_upstream" in p), ""]
    for claim, met in report["verdicts"].items():
        lines.append(f"- {'yes' if met else 'NO'}: {claim}")
    return "\n".join(lines)


def _stop_on_signal(signum, _frame) -> None:
    # The instances and nginx run in sessions of their own: a SIGTERM or SIGHUP (a timeout, a closed
    # terminal) must unwind through the blocks that stop them and drop the scratch database.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> dict:
    """Run it; print the tables, write the JSON. Exits 2 without nginx, 1 when a claim does not hold."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGHUP, _stop_on_signal)
    binary = nginx_binary()
    if binary is None:
        print("bench/scale.py needs nginx (apt-get install nginx, or scripts/install-test-system-deps.sh)",
              file=sys.stderr)
        raise SystemExit(2)
    report = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "rows": args.rows,
              "revision": revision(), "machine": machine(),
              "settings": {"duration_s": args.duration, "mix_duration_s": args.mix_duration,
                           "connections": args.connections, "loadgen": args.loadgen, "workers": 2, "threads": 4,
                           "nginx": subprocess.run([binary, "-v"], capture_output=True, text=True).stderr.strip()}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aime-scale-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        report.update(run(args, work, binary))
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    suffix = f"-scale-{args.rows}{'-tiny' if args.tiny else ''}"
    out = args.results_dir / f"{datetime.now(UTC).date().isoformat()}{suffix}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(render(report))
    print(f"\nreport: {out}")
    if not all(report["verdicts"].values()):
        raise SystemExit(1)
    return report


if __name__ == "__main__":
    main()
