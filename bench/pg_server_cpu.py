"""Run a command and report the CPU seconds of the PostgreSQL backends that served one database meanwhile.

    python bench/pg_server_cpu.py DBNAME -- flask --app aime import FILE

Every 0.2 s the backends connected to DBNAME are looked up in pg_stat_activity and their user + system CPU read
from /proc/<pid>/stat (the server must run on this machine, readable by this user); a backend's last reading counts,
so up to 0.2 s of a backend that ends between two readings is missed. The server's shared processes (checkpointer,
WAL writer, background writer, autovacuum) are reported apart: other databases share them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psycopg

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of the line)


def _shared(cursor) -> dict[int, str]:
    cursor.execute("SELECT pid, backend_type FROM pg_stat_activity WHERE datname IS NULL")
    return dict(cursor.fetchall())


def main(argv: list[str]) -> int:
    """Run the command after `--`; print one JSON line of server CPU seconds on stderr."""
    database, command = argv[0], argv[argv.index("--") + 1:]
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as connection:
        cursor = connection.cursor()
        me = connection.info.backend_pid
        shared = _shared(cursor)
        shared_start = {pid: _cpu(pid) or 0.0 for pid in shared}
        seen: dict[int, float] = {}
        start = time.monotonic()
        child = subprocess.Popen(command)
        while child.poll() is None:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s", (database, me))
            for (pid,) in cursor.fetchall():
                value = _cpu(pid)
                if value is not None:
                    seen[pid] = value
            time.sleep(0.2)
        wall = time.monotonic() - start
        other = {shared[pid]: round((_cpu(pid) or 0.0) - shared_start[pid], 2) for pid in shared}
    print(json.dumps({"backends_cpu_s": round(sum(seen.values()), 2), "backends": len(seen), "wall_s": round(wall, 1),
                      "shared_processes_cpu_s": other, "load": os.getloadavg()[0]}), file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
