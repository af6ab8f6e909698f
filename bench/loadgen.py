"""HTTP load for the benchmarks: wrk when installed, else a small Python generator in its own process.

Both report the same dict: requests, seconds, rps, p50_ms, p99_ms, non_2xx, errors, tool.
Every load is bounded in time and aimed at 127.0.0.1 only.

    python bench/loadgen.py http://127.0.0.1:8000/live --connections 8 --duration 3
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import re
import shutil
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit


def check_local(url: str) -> None:
    """Refuse to aim load anywhere but this machine."""
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"benchmark load only targets 127.0.0.1, not {host}")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def python_load(url: str, connections: int, duration: float, max_requests: int | None = None,
                headers: dict | None = None) -> dict:
    """Keep-alive GETs from `connections` threads for `duration` seconds (or max_requests in all)."""
    check_local(url)
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    counts = {"non_2xx": 0, "errors": 0, "sent": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
        mine: list[float] = []
        while time.monotonic() < deadline:
            with lock:
                if max_requests is not None and counts["sent"] >= max_requests:
                    break
                counts["sent"] += 1
            started = time.perf_counter()
            try:
                conn.request("GET", target, headers=headers or {})
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                with lock:
                    counts["errors"] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
                continue
            mine.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                with lock:
                    counts["non_2xx"] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 60)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"tool": "python", "requests": len(latencies), "seconds": round(elapsed, 3),
            "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "max_ms": round(latencies[-1] * 1000, 2) if latencies else 0.0,
            "non_2xx": counts["non_2xx"], "errors": counts["errors"]}


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return round(float(number) * _UNITS[unit], 2)


def parse_wrk(output: str) -> dict:
    """The numbers we report, from `wrk --latency` output."""
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+),", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    latency = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not (p50 and p99 and total and rps):
        raise ValueError(f"unexpected wrk output:\n{output}")
    seconds = float(total.group(2)) * {"s": 1, "ms": 0.001, "m": 60}.get(total.group(3), 1)
    done = int(total.group(1))
    # No request finished within the run: wrk prints 0 latencies, which would read as "instant".
    return {"tool": "wrk", "requests": done, "seconds": round(seconds, 3),
            "rps": float(rps.group(1)), "p50_ms": _ms(p50.group(1)) if done else None,
            "p99_ms": _ms(p99.group(1)) if done else None,
            "max_ms": _ms(latency.group(3)) if latency and done else None,
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "errors": sum(map(int, errors.groups())) if errors else 0}


def wrk_load(url: str, connections: int, duration: float, threads: int = 1) -> dict:
    """Run wrk against url for `duration` seconds and parse its report."""
    check_local(url)
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               "--timeout", "10s", "--latency", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)
    return parse_wrk(result.stdout)


def measure(url: str, connections: int, duration: float, tool: str = "auto") -> dict:
    """Load url with wrk (auto, when installed) or the Python generator in a separate process."""
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return wrk_load(url, connections, duration)
    command = [sys.executable, __file__, url, "--connections", str(connections), "--duration", str(duration)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 90, check=True)
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> None:
    """Command line: load one URL with the Python generator and print the result as JSON."""
    parser = argparse.ArgumentParser(description="bounded HTTP load against 127.0.0.1")
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--requests", type=int, default=None, help="stop after this many requests")
    args = parser.parse_args(argv)
    print(json.dumps(python_load(args.url, args.connections, args.duration, args.requests)))


if __name__ == "__main__":
    main()
