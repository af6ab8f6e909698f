"""Run a command and report the CPU seconds of the PostgreSQL backends that served one database meanwhile.

    python bench/pg_server_cpu.py DBNAME -- flask --app aime import FILE

Every 0.2 s the backends connected to DBNAME are looked up in pg_stat_activity and their user + system CPU read
from /proc/<pid>/stat (the server must run on this machine, readable by this user); a backend's last reading counts,
so up to 0.2 s of a backend that ends between two readings is missed. The server's shared processes (checkpointer,
WAL writer, background writer, autovacuum) are reported apart: other databases share them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import psycopg

_TICK = os.sysconf("SC_CLK_TCK")
ADMIN = "host=127.0.0.1 user=postgres dbname=postgres"


def _cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of the line)


def backend_cpu(connection: psycopg.Connection) -> float:
    """User + system CPU seconds of the server process behind one psycopg connection."""
    return _cpu(connection.info.backend_pid) or 0.0


def _shared(cursor) -> dict[int, str]:
    cursor.execute("SELECT pid, backend_type FROM pg_stat_activity WHERE datname IS NULL")
    return dict(cursor.fetchall())


class ServerCpu:
    """A context that samples, in a thread, the CPU of every backend serving `database` while it is open.

    After it closes: `result` holds backends_cpu_s, backends, wall_s, shared_processes_cpu_s and load.
    """

    def __init__(self, database: str, admin: str = ADMIN, interval: float = 0.2):
        self.database, self.admin, self.interval = database, admin, interval
        self.result: dict = {}
        self._stop = threading.Event()

    def __enter__(self) -> ServerCpu:
        self._connection = psycopg.connect(self.admin, autocommit=True)
        self._cursor = self._connection.cursor()
        self._shared = _shared(self._cursor)
        self._shared_start = {pid: _cpu(pid) or 0.0 for pid in self._shared}
        self._seen: dict[int, float] = {}
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        me = self._connection.info.backend_pid
        while True:
            self._cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                                 (self.database, me))
            for (pid,) in self._cursor.fetchall():
                value = _cpu(pid)
                if value is not None:
                    self._seen[pid] = value
            if self._stop.wait(self.interval):
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        wall = time.monotonic() - self._start
        other = {self._shared[pid]: round((_cpu(pid) or 0.0) - self._shared_start[pid], 2) for pid in self._shared}
        self._connection.close()
        self.result = {"backends_cpu_s": round(sum(self._seen.values()), 2), "backends": len(self._seen),
                       "wall_s": round(wall, 1), "shared_processes_cpu_s": other, "load": os.getloadavg()[0]}


def main(argv: list[str]) -> int:
    """Run the command after `--`; print one JSON line of server CPU seconds on stderr."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", help="the database whose backends are measured")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...]: what to run meanwhile")
    args = parser.parse_args(argv)
    database, command = args.database, args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command after --")
    with ServerCpu(database) as server:
        child = subprocess.run(command)
    print(json.dumps(server.result), file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
