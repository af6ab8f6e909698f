"""Benchmark of the statistics on a synthetic 1,000,000-listen SQLite database (not part of the test suite).

    .venv/bin/python -m tests.insights.bench_stats /tmp/aime-bench [listens [postgresql-url]]

Builds (once) a database of 2,000 artists, 6,000 albums, 60,000 tracks and `listens` plays in sessions of about an hour
over fifteen years, 2010-2024 (Zipf-like popularity), migrated with Alembic, rollups filled by rollups.rebuild();
then times every statistics endpoint through the Flask test client (p50/p99 over repeated calls).
With a PostgreSQL URL (an empty database), the SQLite build in the directory is copied there first.
"""
from __future__ import annotations

import itertools
import os
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

START = 1_262_304_000  # 2010-01-01T00:00:00Z
YEARS = 15


def build(path: Path, listens: int) -> None:
    """Fill the database file with the synthetic catalogue and history (direct SQL: fast)."""
    rng = random.Random(1)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = int(time.time())
    con.executemany("INSERT INTO artists (id, name, name_key, created_at) VALUES (?, ?, ?, ?)",
                    [(i, f"Artist {i}", f"artist {i}", now) for i in range(1, 2001)])
    con.executemany("INSERT INTO albums (id, title, title_key, primary_artist_id, labels, source, in_collection, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, '[]', 'bench', 0, ?, ?)",
                    [(i, f"Album {i}", f"album {i}", (i - 1) % 2000 + 1, now, now) for i in range(1, 6001)])
    con.executemany("INSERT INTO tracks (id, title, title_key, artist_id, album_id, track_number, duration_seconds, "
                    "loved, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(i, f"Track {i}", f"track {i}", ((i - 1) // 10) % 2000 + 1, (i - 1) // 10 + 1,
                      (i - 1) % 10 + 1, rng.randint(120, 420), int(rng.random() < 0.02), now)
                     for i in range(1, 60001)])
    # Cumulative weights once: choices() would otherwise re-add 60,000 weights for each of ~83,000 sessions
    # (the same draws either way, so the same database).
    cum_weights = list(itertools.accumulate(1 / (rank ** 1.1) for rank in range(1, 60001)))
    span = YEARS * 365 * 86400
    rows, moment = [], START
    step = span // (listens // 12)  # about 12 plays per session
    while len(rows) < listens:
        album_start = rng.choices(range(1, 60001), cum_weights=cum_weights, k=12)
        t = moment + rng.randint(0, step // 2)
        for track in album_start:
            rows.append((track, t, "bench", now))
            t += rng.randint(150, 400)
        moment += step
    con.executemany("INSERT OR IGNORE INTO listens (track_id, played_at, source, created_at) VALUES (?, ?, ?, ?)",
                    rows[:listens])
    con.commit()
    con.close()


def timed(client, url: str, runs: int, **params) -> tuple[float, float, float]:
    """(p50, p99) wall milliseconds and median CPU milliseconds of GET url over `runs` calls (after a warm-up).

    CPU time is shown because a shared machine's load inflates wall time; SQLite runs in-process, so it counts.
    """
    assert client.get(url, query_string=params).status_code == 200
    samples, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, query_string=params)
        samples.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))], statistics.median(cpu)


def copy_to_postgres(sqlite_path: Path, connection) -> None:
    """Copy the synthetic catalogue and listens from the SQLite file into PostgreSQL (COPY)."""
    source = sqlite3.connect(sqlite_path)
    tables = {
        "artists": "id, name, name_key, created_at",
        "albums": "id, title, title_key, primary_artist_id, labels, source, in_collection, created_at, updated_at",
        "tracks": "id, title, title_key, artist_id, album_id, track_number, duration_seconds, loved, created_at",
        "listens": "track_id, played_at, source, created_at",
    }
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:
        for table, columns in tables.items():
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in source.execute(f"SELECT {columns} FROM {table}"):
                    if table == "albums":
                        row = (*row[:6], bool(row[6]), *row[7:])
                    elif table == "tracks":
                        row = (*row[:7], bool(row[7]), row[8])
                    copy.write_row(row)
        for table in ("artists", "albums", "tracks"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    raw.commit()
    source.close()


def main(directory: str, listens: int = 1_000_000, database_url: str | None = None) -> None:
    """Build if needed (PostgreSQL: copied from the SQLite build), then print the timings."""
    from flask_migrate import upgrade

    from aime import create_app
    from aime.config import Config
    from aime.services import rollups

    data = Path(directory)
    data.mkdir(parents=True, exist_ok=True)
    env = {"AIME_DATA_DIR": str(data), "AIME_LOG_LEVEL": "warning", "AIME_TIMEZONE": "Europe/Zurich"}
    if database_url:
        env["DATABASE_URL"] = database_url
    app = create_app(Config.from_env(env))
    with app.app_context():
        from aime.extensions import db
        upgrade()
        if database_url and not db.session.scalar(db.text("SELECT COUNT(*) FROM tracks")):
            began = time.perf_counter()
            copy_to_postgres(data / "musique.db", db.session.connection())
            db.session.commit()
            print("rollups rebuilt:", rollups.rebuild(), f"copied in {time.perf_counter() - began:.1f} s")
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        if not db.session.scalar(db.text("SELECT COUNT(*) FROM tracks")):
            began = time.perf_counter()
            build(data / "musique.db", listens)
            print(f"built {listens} listens in {time.perf_counter() - began:.1f} s")
            began = time.perf_counter()
            print("rollups rebuilt:", rollups.rebuild(), f"in {time.perf_counter() - began:.1f} s")
        if not db.session.scalar(db.text("SELECT COUNT(*) FROM artist_play_totals")):
            rollups.rebuild()  # a database built before the artist rollup existed
        count = db.session.scalar(db.text("SELECT COUNT(*) FROM listens"))
        print(f"listens: {count}")
        # The batch hook: one upsert per rollup for 10,000 (track, time) pairs.
        pairs = [(random.randint(1, 60000), START + random.randint(0, 86400 * 365)) for _ in range(10_000)]
        began = time.perf_counter()
        rollups.listens_added(db.session, pairs)
        spent = (time.perf_counter() - began) * 1000
        db.session.rollback()
        print(f"listens_added(10,000 pairs): {spent:.0f} ms (rolled back)")
    client = app.test_client()
    year = {"start_date": "2023-01-01", "end_date": "2023-12-31"}
    cases = [
        ("top artists all time", "/api/v1/history/top/artists", 200, {}),
        ("top artists all time by time", "/api/v1/history/top/artists", 50, {"by": "duration"}),
        ("top albums all time", "/api/v1/history/top/albums", 50, {}),
        ("top tracks all time", "/api/v1/history/top/tracks", 50, {}),
        ("top artists year", "/api/v1/history/top/artists", 20, year),
        ("top albums year by time", "/api/v1/history/top/albums", 20, {**year, "by": "duration"}),
        ("top tracks year", "/api/v1/history/top/tracks", 20, year),
        ("stats year", "/api/v1/history/stats", 10, year),
        ("stats all time", "/api/v1/history/stats", 10, {}),
        ("stats year Asia/Kolkata", "/api/v1/history/stats", 10, {**year, "tz": "Asia/Kolkata"}),
        ("stats year America/St_Johns", "/api/v1/history/stats", 10, {**year, "tz": "America/St_Johns"}),
        ("stats one day", "/api/v1/history/stats", 10, {"start_date": "2023-06-15", "end_date": "2023-06-15"}),
        ("stats one month", "/api/v1/history/stats", 10, {"start_date": "2023-06-01", "end_date": "2023-06-30"}),
        ("stats 2013-03-10..2024-10-20", "/api/v1/history/stats", 10,
         {"start_date": "2013-03-10", "end_date": "2024-10-20"}),
        ("sessions year", "/api/v1/history/sessions", 10, year),
        ("sessions all time", "/api/v1/history/sessions", 5, {}),
        ("patterns year", "/api/v1/history/patterns", 10, year),
        ("heatmap year", "/api/v1/analytics/listening-heatmap", 20, year),
        ("heatmap all time", "/api/v1/analytics/listening-heatmap", 10, {}),
        ("streaks year", "/api/v1/analytics/streaks", 20, year),
        ("streaks all time", "/api/v1/analytics/streaks", 10, {}),
        ("discovery year", "/api/v1/analytics/discovery", 20, year),
        ("discovery all time", "/api/v1/analytics/discovery", 10, {}),
        ("compare two years", "/api/v1/analytics/compare", 10,
         {**year, "compare_start_date": "2022-01-01", "compare_end_date": "2022-12-31"}),
    ]
    only = os.environ.get("AIME_BENCH_ONLY")  # a substring of the labels to time, e.g. "stats"
    for label, url, runs, params in cases:
        if only and only not in label:
            continue
        p50, p99, cpu = timed(client, url, runs, **params)
        print(f"{label:32s} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   cpu p50 {cpu:7.1f} ms   ({runs} runs)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000,
         sys.argv[3] if len(sys.argv) > 3 else None)
