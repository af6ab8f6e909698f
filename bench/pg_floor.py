"""PostgreSQL import floors: the plain floor (catalogue and listens into a lean schema) and the floor of the same
work (the rows an AIME import ended with, rollups included, into a freshly migrated database), both by COPY.

    python bench/pg_floor.py plain FILE.csv ADMIN_URL DBNAME [RESULT.json]

Each measures the CPU of this process (client) and of its one server backend (from /proc/<pid>/stat, as
bench/pg_server_cpu.py: the server must run on this machine), and wall time. The databases they create are dropped
at the end unless kept. `bench/floor_same_work.py` calls `same_work` when IMPORTED is a PostgreSQL URL.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import importbench  # noqa: E402
from bench.pg_server_cpu import backend_cpu  # noqa: E402

# The SQLite plain floor's schema, the same statements in PostgreSQL: only the play times need 64 bits there
# (SQLite's INTEGER is 64-bit, PostgreSQL's 32).
_FLOOR_SCHEMA = importbench._FLOOR_SCHEMA.replace("played_at INTEGER", "played_at bigint")


def conninfo(url: str, database: str | None = None) -> str:
    """A libpq URL for psycopg from a SQLAlchemy one (postgresql+psycopg://...), optionally on another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def create_database(admin: str, name: str) -> str:
    """(Re-)create an empty database; its URL (libpq form)."""
    with psycopg.connect(conninfo(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return conninfo(admin, name)


def drop_database(admin: str, name: str) -> None:
    """Drop a database made by create_database."""
    with psycopg.connect(conninfo(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Meter:
    """Client (this process) and server (one backend) CPU seconds, and wall, between start() and stop()."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def start(self) -> None:
        self.client, self.server, self.wall = time.process_time(), backend_cpu(self.conn), time.perf_counter()

    def stop(self) -> dict:
        return {"client_cpu_s": round(time.process_time() - self.client, 2),
                "server_cpu_s": round(backend_cpu(self.conn) - self.server, 2),
                "wall_s": round(time.perf_counter() - self.wall, 2)}


def copy_rows(conn: psycopg.Connection, table: str, columns: list[str], rows: list[tuple],
              types: list[str] | None = None) -> None:
    """One COPY FROM STDIN of rows into table (text format, psycopg adapting each value, by the columns' types
    when given: a Python list bound for a json column is otherwise written as an array)."""
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        if types:
            copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def plain(csv_path: Path, admin: str, name: str, keep: bool = False) -> dict:
    """The CSV into a lean schema by COPY, one transaction: the least any PostgreSQL importer must do.

    The parse is importbench's; exact duplicate plays are dropped in the client (a set), so the listens go
    straight into their table: no staging table, no ON CONFLICT.
    """
    url = create_database(admin, name)
    try:
        with psycopg.connect(url) as conn:
            started, cpu = time.perf_counter(), time.process_time()
            server = backend_cpu(conn)
            conn.execute(_FLOOR_SCHEMA)
            conn.commit()
            artist_rows, album_rows, track_rows, listen_rows = importbench.parse_catalogue(csv_path)
            listen_rows = [(n, *row) for n, row in enumerate(dict.fromkeys(listen_rows), 1)]
            parsed, parse_cpu = time.perf_counter(), time.process_time()
            copy_rows(conn, "artists", ["id", "name", "name_key"], artist_rows)
            copy_rows(conn, "albums", ["id", "title", "title_key", "primary_artist_id"], album_rows)
            copy_rows(conn, "tracks", ["id", "title", "title_key", "artist_id", "album_id"], track_rows)
            copy_rows(conn, "listens", ["id", "track_id", "played_at", "source"], listen_rows)
            conn.commit()
            done = time.perf_counter()
            server = backend_cpu(conn) - server
            client = time.process_time() - cpu
            rows = conn.execute("SELECT count(*) FROM listens").fetchone()[0]
    finally:
        if not keep:
            drop_database(admin, name)
    return {"seconds": round(done - started, 2), "parse_seconds": round(parsed - started, 2),
            "insert_seconds": round(done - parsed, 2), "rows_added": rows,
            "rows_per_s": round(rows / (done - started)) if done > started else 0,
            "parse_cpu_s": round(parse_cpu - cpu, 2), "client_cpu_s": round(client, 2),
            "server_cpu_s": round(server, 2), "cpu_s": round(client + server, 2)}


def primary_key(conn: psycopg.Connection, table: str) -> list[str]:
    """The primary key's columns of a table, in key order."""
    return [row[0] for row in conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)", (table,))]


Rows = dict[str, tuple[list[str], list[str], list[tuple]]]


def read_rows(url: str, tables: tuple[str, ...]) -> Rows:
    """Each table's stored columns (not generated ones), their types and its rows, in primary-key order."""
    out = {}
    with psycopg.connect(conninfo(url)) as conn:
        for table in tables:
            described = conn.execute(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = %s::regclass"
                " AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum", (table,)).fetchall()
            columns = [name for name, _type in described]
            query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(primary_key(conn, table))}"
            out[table] = (columns, [kind for _name, kind in described], conn.execute(query).fetchall())
    return out


def migrated_database(admin: str, name: str) -> str:
    """An empty database migrated to AIME's head by `flask --app aime db upgrade`; its libpq URL."""
    url = create_database(admin, name)
    env = {**os.environ, "DATABASE_URL": make_url(url).set(drivername="postgresql+psycopg").render_as_string(
        hide_password=False), "AIME_LOG_LEVEL": "warning"}
    subprocess.run(importbench.flask_command("db", "upgrade"), cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return url


def _copy_all(conn: psycopg.Connection, rows: Rows) -> tuple[dict, dict]:
    """COPY every table's rows; the row counts, and each table's server CPU seconds."""
    server = {}
    for table, (columns, types, values) in rows.items():
        before = backend_cpu(conn)
        copy_rows(conn, table, columns, values, types)
        server[table] = round(backend_cpu(conn) - before, 2)
    return {table: len(values) for table, (_columns, _types, values) in rows.items()}, server


def same_work(imported: str, base: tuple[str, ...], rollups: tuple[str, ...], admin: str, name: str,
              analyze: tuple[str, ...], keep: bool = False) -> dict:
    """AIME's final rows (read from the imported database first, not timed) COPYed, sorted by key, in one
    transaction into a freshly migrated database, then the import's own ANALYZE statements; client and server CPU.
    The commit is counted with the rollups (the last COPYs)."""
    before, after = read_rows(imported, base), read_rows(imported, rollups)
    url = migrated_database(admin, name)
    try:
        with psycopg.connect(url) as conn:
            meter = Meter(conn)
            meter.start()
            counts, server = _copy_all(conn, before)
            written = {"catalogue_and_listens": {**meter.stop(), "rows": counts, "server_cpu_s_by_table": server}}
            meter.start()
            counts, server = _copy_all(conn, after)
            commit = backend_cpu(conn)
            conn.commit()
            server["COMMIT"] = round(backend_cpu(conn) - commit, 2)
            written["rollups"] = {**meter.stop(), "rows": counts, "server_cpu_s_by_table": server}
            conn.autocommit = True  # VACUUM runs outside a transaction
            meter.start()
            for statement in analyze:
                conn.execute(statement)
            written["analyze"] = meter.stop()
    finally:
        if not keep:
            drop_database(admin, name)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["plain"], help="the plain COPY floor of the file")
    parser.add_argument("csv", type=Path, metavar="FILE.csv")
    parser.add_argument("admin_url", metavar="ADMIN_URL")
    parser.add_argument("dbname", metavar="DBNAME")
    parser.add_argument("result", nargs="?", metavar="RESULT.json")
    args = parser.parse_args()
    importbench.emit(plain(args.csv, args.admin_url, args.dbname), args.result)
