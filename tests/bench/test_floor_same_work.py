"""bench/floor_same_work.py writes exactly the rows an AIME import ended with, into AIME's migrated schema."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from bench import floor_same_work, pg_floor
from tests.conftest import drop_postgres_database, make_postgres_database
from tests.importers.conftest import SAMPLES

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = SAMPLES / "recenttracks-alice-1700000000.csv"


def _rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        count = len(conn.execute(f"PRAGMA table_info({table})").fetchall())
        order = ", ".join(str(n) for n in range(1, count + 1))
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def test_same_rows_as_the_import(tmp_path):
    data = tmp_path / "aime"
    env = {**os.environ, "AIME_DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    for args in (("db", "upgrade"), ("import", str(SAMPLE))):
        subprocess.run([sys.executable, "-m", "flask", "--app", "aime", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    imported = data / "musique.db"

    result = floor_same_work.main([str(imported), str(SAMPLE), "--keep", str(tmp_path / "work")])

    assert result["listens"] == 10  # the sample's ten plays, the plain floor's count
    assert result["plain_floor"]["rows_added"] == 10
    assert result["catalogue_and_listens"]["rows"]["listens"] == 10
    same = tmp_path / "work" / "same-work.db"
    for table in floor_same_work.CATALOGUE_AND_LISTENS + floor_same_work.ROLLUPS:
        assert _rows(same, table) == _rows(imported, table), table
    # The sample has rollup rows to write (the statistics of its ten plays), not empty tables.
    assert result["rollups"]["rows"]["track_play_totals"] == len(_rows(imported, "track_play_totals")) > 0


def _pg_rows(url: str, table: str) -> list[tuple]:
    with psycopg.connect(pg_floor.conninfo(url)) as conn:
        order = ", ".join(pg_floor.primary_key(conn, table))  # unique; albums has a json column (no ordering)
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


@pytest.mark.postgres
def test_same_rows_as_the_import_on_postgres(tmp_path, postgres_admin_url):
    imported = make_postgres_database(postgres_admin_url)
    floor_name = f"{sa.engine.make_url(imported).database}_floor"
    env = {**os.environ, "AIME_DATA_DIR": str(tmp_path / "aime"), "DATABASE_URL": imported}
    try:
        for args in (("db", "upgrade"), ("import", str(SAMPLE))):
            subprocess.run([sys.executable, "-m", "flask", "--app", "aime", *args], cwd=ROOT, env=env, check=True,
                           capture_output=True)

        result = floor_same_work.main([imported, str(SAMPLE), "--keep", str(tmp_path / "work"),
                                       "--admin", postgres_admin_url, "--database", floor_name])

        assert result["listens"] == result["plain_floor"]["rows_added"] == 10
        # The plain floor (a lean schema, kept by --keep) holds the same ten plays as the import.
        with psycopg.connect(pg_floor.conninfo(imported, floor_name + "_plain")) as conn:
            plain = conn.execute("SELECT played_at, source FROM listens ORDER BY played_at").fetchall()
            # The SQLite floor's schema, its play times widened to PostgreSQL's 64-bit integer.
            played_at_type = conn.execute("SELECT data_type FROM information_schema.columns "
                                          "WHERE table_name = 'listens' AND column_name = 'played_at'").fetchone()
        assert played_at_type == ("bigint",)
        with psycopg.connect(pg_floor.conninfo(imported)) as conn:
            aime = conn.execute("SELECT played_at FROM listens ORDER BY played_at").fetchall()
        assert plain == [(played_at, "lastfm") for (played_at,) in aime]
        assert result["catalogue_and_listens"]["rows"]["listens"] == 10
        same = pg_floor.conninfo(imported, floor_name)
        for table in floor_same_work.CATALOGUE_AND_LISTENS + floor_same_work.ROLLUPS:
            assert _pg_rows(same, table) == _pg_rows(imported, table), table
        assert result["rollups"]["rows"]["track_play_totals"] == len(_pg_rows(imported, "track_play_totals")) > 0
        for step in ("catalogue_and_listens", "rollups", "analyze"):
            assert {"client_cpu_s", "server_cpu_s", "wall_s"} <= set(result[step]), step
        assert result["same_work_cpu_s"] == round(result["same_work_client_cpu_s"]
                                                  + result["same_work_server_cpu_s"], 2)
    finally:
        for name in (floor_name, floor_name + "_plain"):
            pg_floor.drop_database(postgres_admin_url, name)
        drop_postgres_database(postgres_admin_url, imported)
