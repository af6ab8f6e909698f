"""bench/floor_same_work.py writes exactly the rows an AIME import ended with, into AIME's migrated schema."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bench import floor_same_work
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
