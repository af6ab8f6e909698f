"""Server CPU per statement of a PostgreSQL import, without pg_stat_statements.

    python bench/pg_statement_cpu.py FILE    # DATABASE_URL names the (migrated) PostgreSQL database

Runs `flask --app aime import FILE` in this process with psycopg's execute, executemany, copy and commit wrapped:
each reads its backend's user + system CPU from /proc/<pid>/stat (the server must run on this machine) before and
after, and adds the difference to the statement's text (its first 70 characters). The clock ticks are 10 ms, so one
short statement reads 0 or 10 ms; summed over thousands of calls the shares are right. Prints one line per
statement text, largest first, then the total.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections import defaultdict

import psycopg

_TICK = os.sysconf("SC_CLK_TCK")
SPENT: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _key(query) -> str:
    text = query if isinstance(query, str) else getattr(query, "as_string", lambda _c: str(query))(None)
    return " ".join(str(text).split())[:70]


def _wrap(method, key_of):
    def wrapped(self, *args, **kwargs):
        connection = self if isinstance(self, psycopg.Connection) else self.connection
        pid = connection.info.backend_pid
        before = _cpu(pid)
        try:
            return method(self, *args, **kwargs)
        finally:
            entry = SPENT[key_of(args)]
            entry[0] += _cpu(pid) - before
            entry[1] += 1
    return wrapped


def main(argv: list[str]) -> int:
    """Run the import with the wrappers; print the server CPU per statement text."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="the file to import (DATABASE_URL names the migrated PostgreSQL database)")
    argv = [parser.parse_args(argv).file]
    psycopg.Cursor.execute = _wrap(psycopg.Cursor.execute, lambda a: _key(a[0]))
    psycopg.Cursor.executemany = _wrap(psycopg.Cursor.executemany, lambda a: "executemany " + _key(a[0]))
    psycopg.Connection.commit = _wrap(psycopg.Connection.commit, lambda _a: "COMMIT")
    copy = psycopg.Cursor.copy

    def copy_wrapped(self, statement, *args, **kwargs):
        pid = self.connection.info.backend_pid
        before = _cpu(pid)
        context = copy(self, statement, *args, **kwargs)

        class Timed:
            def __enter__(inner):
                return context.__enter__()

            def __exit__(inner, *exc):
                try:
                    return context.__exit__(*exc)
                finally:
                    entry = SPENT[_key(statement)]
                    entry[0] += _cpu(pid) - before
                    entry[1] += 1
        return Timed()

    psycopg.Cursor.copy = copy_wrapped
    if os.environ.get("BENCH_MIN_BATCH"):  # an experiment: batches of at least this many rows
        from aime.services.importers import pipeline
        pipeline.MIN_BATCH = pipeline.FIRST_BATCH = int(os.environ["BENCH_MIN_BATCH"])
        pipeline.BATCH_SIZE = max(pipeline.BATCH_SIZE, pipeline.MIN_BATCH)
    from flask.cli import main as flask_main
    sys.argv = ["flask", "--app", "aime", "import", argv[0]]
    with contextlib.suppress(SystemExit):
        flask_main()
    total = sum(v[0] for v in SPENT.values())
    for key, (seconds, calls) in sorted(SPENT.items(), key=lambda item: -item[1][0])[:25]:
        print(f"{seconds:8.2f} s {calls:7d}  {key}", file=sys.stderr)
    print(f"{total:8.2f} s total over wrapped calls", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
