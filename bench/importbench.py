"""Import measurements: the real importer CLI as a child process, and the plain-sqlite3 floor.

    python bench/importbench.py floor FILE.csv OUT.db   # the floor alone, prints JSON
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


TIME = "/usr/bin/time"


def run_child(command: list[str], env: dict[str, str], log_path: Path, timeout: float) -> dict:
    """Run a command, returning wall seconds, CPU seconds (user + system), its peak RSS in MB and the exit code.

    CPU seconds are the number to compare between runs on a loaded machine: wall time there is mostly waiting
    for a core (an import measured 446 s wall for 52 s of CPU at load average 15).

    Peak RSS comes from GNU time (%M) when installed: wait4's ru_maxrss is not usable here, because
    Linux carries the forking parent's high-water mark into the exec'd child.
    """
    rss_file = log_path.with_name(log_path.name + ".maxrss")
    if Path(TIME).exists():
        command = [TIME, "-f", "%M", "-o", str(rss_file), *command]
    with open(log_path, "ab") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = started + timeout
        while True:
            # wait4 gives the rusage of this child alone (getrusage(RUSAGE_CHILDREN) mixes all of them).
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak_kb = _gnu_time_peak_kb(rss_file)
    if peak_kb is None:
        peak_kb = usage.ru_maxrss  # fallback: an upper bound (includes this process's own peak)
    cpu = usage.ru_utime + usage.ru_stime  # wait4's rusage includes the children the child waited for
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak_kb / 1024, 1),
            "exit_code": proc.returncode}


def _gnu_time_peak_kb(rss_file: Path) -> int | None:
    """GNU time's %M (KB) from its output file, which is then removed; None when it wrote no number there (GNU
    time opens the file when it starts, so a run killed at its timeout, time itself included, leaves it empty)."""
    try:
        words = rss_file.read_text().split()
    except FileNotFoundError:
        return None
    rss_file.unlink()
    return int(words[-1]) if words and words[-1].isdigit() else None


def flask_command(*args: str) -> list[str]:
    """`flask --app aime ARGS` with this interpreter."""
    return [sys.executable, "-m", "flask", "--app", "aime", *args]


def _count(database_url: str, sql: str, params: dict | None = None) -> int:
    """One count(*) query against the AIME database at database_url, on a short-lived engine."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text(sql), params or {}))
    finally:
        engine.dispose()


def count_rows(database_url: str, table: str = "listens") -> int:
    """Rows in a table of the AIME database at database_url."""
    return _count(database_url, f"SELECT count(*) FROM {table}")


def count_owned(database_url: str) -> int:
    """Albums in the collection (in_collection true)."""
    return _count(database_url, "SELECT count(*) FROM albums WHERE in_collection = :yes", {"yes": True})


def measure_import(path: Path, env: dict[str, str], log_path: Path, timeout: float) -> dict:
    """Import `path` through `flask --app aime import`, reporting time, RSS and rows added."""
    before = count_rows(env["DATABASE_URL"])
    result = run_child(flask_command("import", str(path)), env, log_path, timeout)
    after = count_rows(env["DATABASE_URL"])
    result.update(rows_added=after - before, listens_total=after)
    result["rows_per_s"] = round(result["rows_added"] / result["seconds"]) if result["seconds"] else 0
    return result


_FLOOR_SCHEMA = """
CREATE TABLE artists (id INTEGER PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL UNIQUE);
CREATE TABLE albums (id INTEGER PRIMARY KEY, title TEXT NOT NULL, title_key TEXT NOT NULL,
                     primary_artist_id INTEGER NOT NULL, UNIQUE (title_key, primary_artist_id));
CREATE TABLE tracks (id INTEGER PRIMARY KEY, title TEXT NOT NULL, title_key TEXT NOT NULL,
                     artist_id INTEGER NOT NULL, album_id INTEGER);
CREATE UNIQUE INDEX uq_tracks_identity ON tracks (artist_id, coalesce(album_id, 0), title_key);
CREATE TABLE listens (id INTEGER PRIMARY KEY, track_id INTEGER NOT NULL, played_at INTEGER NOT NULL,
                      source TEXT NOT NULL, UNIQUE (track_id, played_at));
CREATE INDEX ix_listens_played_at_track ON listens (played_at, track_id);
"""


def parse_catalogue(csv_path: Path) -> tuple[list, list, list, list]:
    """The CSV's artists, albums, tracks and listens as rows with ids, names resolved with dicts.

    Names are only casefolded (AIME also strips accents), so this is the least any importer must do.
    """
    artists: dict[str, int] = {}
    albums: dict[tuple[str, int], int] = {}
    tracks: dict[tuple[int, int, str], int] = {}
    artist_rows, album_rows, track_rows, listen_rows = [], [], [], []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for uts, _, artist, _, album, _, title, _ in reader:
            akey = artist.casefold()
            artist_id = artists.get(akey)
            if artist_id is None:
                artist_id = artists[akey] = len(artists) + 1
                artist_rows.append((artist_id, artist, akey))
            album_id = 0
            if album:
                bkey = (album.casefold(), artist_id)
                album_id = albums.get(bkey)
                if album_id is None:
                    album_id = albums[bkey] = len(albums) + 1
                    album_rows.append((album_id, album, bkey[0], artist_id))
            tkey = (artist_id, album_id, title.casefold())
            track_id = tracks.get(tkey)
            if track_id is None:
                track_id = tracks[tkey] = len(tracks) + 1
                track_rows.append((track_id, title, tkey[2], artist_id, album_id or None))
            listen_rows.append((track_id, int(uts), "lastfm"))
    return artist_rows, album_rows, track_rows, listen_rows


def floor(csv_path: Path, db_path: Path) -> dict:
    """The same CSV loaded with plain sqlite3: parse, resolve names with dicts, executemany, one commit.

    Same tables, unique keys and listen index as AIME, same pragmas (WAL, synchronous=NORMAL).
    """
    started = time.perf_counter()
    db_path.unlink(missing_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_FLOOR_SCHEMA)
    artist_rows, album_rows, track_rows, listen_rows = parse_catalogue(csv_path)
    parsed = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO artists VALUES (?, ?, ?)", artist_rows)
    conn.executemany("INSERT INTO albums VALUES (?, ?, ?, ?)", album_rows)
    conn.executemany("INSERT INTO tracks VALUES (?, ?, ?, ?, ?)", track_rows)
    conn.executemany("INSERT OR IGNORE INTO listens (track_id, played_at, source) VALUES (?, ?, ?)", listen_rows)
    conn.execute("COMMIT")
    rows = conn.execute("SELECT count(*) FROM listens").fetchone()[0]
    conn.close()
    done = time.perf_counter()
    return {"seconds": round(done - started, 2), "parse_seconds": round(parsed - started, 2),
            "insert_seconds": round(done - parsed, 2), "rows_added": rows,
            "rows_per_s": round(rows / (done - started)) if done > started else 0}


def measure_floor(csv_path: Path, db_path: Path, log_path: Path, timeout: float) -> dict:
    """Run the floor in its own process (so its memory is measured the same way as the importer's)."""
    out = db_path.with_suffix(".json")
    result = run_child([sys.executable, __file__, "floor", str(csv_path), str(db_path), str(out)],
                       dict(os.environ), log_path, timeout)
    return {**json.loads(out.read_text()), "peak_rss_mb": result["peak_rss_mb"], "wall_seconds": result["seconds"],
            "cpu_seconds": result["cpu_seconds"]}


def emit(measured: dict, out: str | None) -> None:
    """Print a floor's result as JSON, and write it to `out` when given (the command lines of the floors)."""
    text = json.dumps(measured)
    if out:
        Path(out).write_text(text)
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["floor"], help="the plain-sqlite3 floor of the file")
    parser.add_argument("csv", type=Path, metavar="FILE.csv")
    parser.add_argument("out", type=Path, metavar="OUT.db")
    parser.add_argument("result", nargs="?", metavar="RESULT.json")
    args = parser.parse_args()
    emit(floor(args.csv, args.out), args.result)
