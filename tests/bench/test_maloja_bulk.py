"""bench/maloja_bulk.py builds the database `maloja import` builds: the same rows in every table, ids included.

Needs Maloja installed (bench/.maloja-venv, or AIME_MALOJA_VENV; `bench/run.py --maloja` installs it from PyPI);
without it the Maloja tests skip. No network: both imports run Maloja's own code on a local CSV (~10 s).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from bench import maloja_bulk, malojabench

VENV = Path(os.environ.get("AIME_MALOJA_VENV") or malojabench.DEFAULT_VENV)
needs_maloja = pytest.mark.skipif(
    not (VENV / ".malojaserver-version").exists() or not (VENV / "bin" / "maloja").exists(),
    reason=f"Maloja is not installed in {VENV} (set AIME_MALOJA_VENV, or run bench/run.py --maloja once)")

# File order is import order (a Last.fm CSV is newest first). Each row is there for one of Maloja's rules:
CSV = """uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid
1000,,Alpha,,First,,Song,
1000,,Alpha,,First,,Song,
900,,Beta,,,,Song,
800,,Beta,,Second,,Song,
700,,Alpha,,Other,,song,
600,,Gamma & Delta,,Third,,Tune,
500,,ALPHA,,First,,Tune,
"""
# 1-2: the same instant twice: the second becomes 1001. 3: the same title by another artist is another track, with
# no album. 4: that track gets its first album. 5: "song" is Alpha's "Song", which keeps its album: "Other" is never
# created. 6: one artist, kept whole by the benchmark's belongtogether rule. 7: "ALPHA" is Alpha (names match
# normalised), whose album "First" is reused; "Tune" by Alpha is a new track.
TABLES = {
    "artists": [(1, "Alpha", "alpha"), (2, "Beta", "beta"), (3, "Gamma & Delta", "gamma & delta")],
    "albums": [(1, "First", "first"), (2, "Second", "second"), (3, "Third", "third")],
    "albumartists": [(1, 1, 1), (2, 2, 2), (3, 3, 3)],
    "tracks": [(1, "Song", "song", None, 1), (2, "Song", "song", None, 2), (3, "Tune", "tune", None, 3),
               (4, "Tune", "tune", None, 1)],
    "trackartists": [(1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 1, 4)],
    "scrobbles": [(500, None, "import:lastfm", None, 4, None), (600, None, "import:lastfm", None, 3, None),
                  (700, None, "import:lastfm", None, 1, None), (800, None, "import:lastfm", None, 2, None),
                  (900, None, "import:lastfm", None, 2, None), (1000, None, "import:lastfm", None, 1, None),
                  (1001, None, "import:lastfm", None, 1, None)],
}


def rows(data_dir: Path, table: str) -> list[tuple]:
    """A table of a Maloja data directory, ordered by its first column."""
    with sqlite3.connect(data_dir / "malojadb.sqlite") as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The CSV, Maloja's own import of it, and the bulk loader's."""
    tmp = tmp_path_factory.mktemp("maloja-bulk")
    csv_path = tmp / "recenttracks-test.csv"
    csv_path.write_text(CSV, encoding="utf-8")
    real, bulk = tmp / "real", tmp / "bulk"
    real.mkdir()
    script = malojabench.install(VENV)
    done = malojabench.import_plays(script, csv_path, real, tmp / "real.log", 120)
    assert done["exit_code"] == 0 and done["rows_added"] == 7, (tmp / "real.log").read_text()
    maloja_bulk.build(csv_path, bulk, VENV, tmp / "bulk.log", 120)
    return csv_path, real, bulk


@needs_maloja
@pytest.mark.parametrize("table", sorted(TABLES))
def test_maloja_import_gives_the_rows_worked_out_by_hand(imported, table):
    assert rows(imported[1], table) == TABLES[table]


@needs_maloja
@pytest.mark.parametrize("table", sorted(TABLES))
def test_bulk_load_gives_the_same_rows(imported, table):
    assert rows(imported[2], table) == TABLES[table]


@needs_maloja
def test_bulk_load_is_identical_to_maloja_import_and_marked_for_reuse(imported):
    csv_path, real, bulk = imported
    assert maloja_bulk.compare(real, bulk) == []
    assert not [r for r in maloja_bulk.dump(bulk / "malojadb.sqlite")["schema"] if "aime_bulk" in str(r)]
    kept = malojabench.kept_import(bulk, csv_path, malojabench.MALOJA_VERSION)
    assert kept["loader"] == "bench/maloja_bulk.py" and kept["rows_added"] == 7


@needs_maloja
def test_bulk_load_refuses_a_directory_that_is_not_empty(imported, tmp_path):
    with pytest.raises(SystemExit, match="not empty"):
        maloja_bulk.build(imported[0], imported[2], VENV, tmp_path / "bulk.log", 120)


def test_compare_reports_a_changed_row(tmp_path):
    def database(data_dir: Path, title: str) -> Path:
        data_dir.mkdir()
        with sqlite3.connect(data_dir / "malojadb.sqlite") as conn:
            conn.execute("CREATE TABLE tracks (id INTEGER PRIMARY KEY, title VARCHAR)")
            conn.executemany("INSERT INTO tracks VALUES (?, ?)", [(1, "Song"), (2, title)])
        return data_dir

    same, other = database(tmp_path / "a", "Tune"), database(tmp_path / "b", "Tune")
    assert maloja_bulk.compare(same, other) == []
    changed = database(tmp_path / "c", "Tunes")
    assert maloja_bulk.compare(same, changed) == [
        "tracks: 2 rows against 2; only in the first [(2, 'Tune')], only in the second [(2, 'Tunes')]"]
    shutil.rmtree(changed)



def rendered_import(**maloja) -> list[str]:
    """The import part of the side-by-side report, Maloja's row as given."""
    result = {"version": "3.2.9", "rounds": 1, "duration_s": 2, "rows": [], "import": {
        "aime": {"seconds": 60.0, "rows_added": 1000, "rows_per_s": 16.7, "peak_rss_mb": 90.0},
        "maloja": {"seconds": 600.0, "rows_added": 1000, "rows_per_s": 1.7, "peak_rss_mb": 70.0,
                   "reused_from": "2026-12-01T07:48:29+00:00", **maloja}}}
    lines = malojabench.render(result)
    return lines[5:next(i for i, line in enumerate(lines) if line.startswith("| question"))]


def test_report_says_a_bulk_loaded_maloja_was_not_imported_by_maloja_import():
    assert rendered_import() == [
        "| Maloja 3.2.9 | 600.00 | 1,000 | 1.7 | 70.0 |", "", "AIME imports 10.0x faster.",
        "Maloja's database was kept from its import of 2026-12-01T07:48:29+00:00 (not re-imported in this run; "
        "its row above is that import's).", ""]
    assert rendered_import(loader="bench/maloja_bulk.py") == [
        "| Maloja 3.2.9, loaded by bench/maloja_bulk.py (not `maloja import`) | 600.00 | 1,000 | 1.7 | 70.0 |", "",
        "Maloja's database was built by bench/maloja_bulk.py on 2026-12-01T07:48:29+00:00 (Maloja's own import code, "
        "batched; not `maloja import`, whose time is not measured here): no import speed ratio.", ""]
