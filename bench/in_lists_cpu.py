"""CPU per call of paths that pass a list of ids to the database: `.in_(list)` (before) vs one bound value
(aime/services/sql_lists.py: `json_each(?)` on SQLite, `= ANY(?)` on PostgreSQL).

    .venv/bin/python bench/in_lists_cpu.py /tmp/inlists/bench [DATABASE_URL]          # this tree
    AIME_CODE=/work/main .venv/bin/python bench/in_lists_cpu.py /tmp/inlists/bench    # another tree's aime

The first run fills the database (2,000 artists, 1,000 albums, 10,000 tracks, no plays); later runs reuse it.
Prints the minimum and the median of `time.process_time` per call, RUNS calls (default 30) after a warm-up.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, os.environ.get("AIME_CODE") or str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from aime import create_app  # noqa: E402
from aime.config import Config  # noqa: E402
from aime.extensions import db  # noqa: E402
from aime.models import Album, AlbumArtist, Artist, Track  # noqa: E402
from aime.services import collection, sessions, songs  # noqa: E402

TOKEN = "bench-token-bench-token-bench-token"


def cpu(call, runs: int) -> tuple[float, float]:
    """(minimum, median) CPU milliseconds of `runs` calls after one warm-up call."""
    call()
    spent = []
    for _ in range(runs):
        began = time.process_time()
        call()
        spent.append((time.process_time() - began) * 1000)
    spent.sort()
    return spent[0], spent[len(spent) // 2]


def fill() -> None:
    """2,000 artists, 1,000 albums (one artist each), 10,000 tracks, unless already there."""
    if db.session.scalar(select(Artist.id).limit(1)) is not None:
        return
    db.session.execute(insert(Artist), [{"id": i, "name": f"Artist {i}", "name_key": f"artist {i}"}
                                        for i in range(1, 2001)])
    db.session.execute(insert(Album), [{"id": i, "title": f"Album {i}", "title_key": f"album {i}",
                                        "primary_artist_id": i, "in_collection": True} for i in range(1, 1001)])
    db.session.execute(insert(AlbumArtist), [{"album_id": i, "artist_id": i, "position": 0} for i in range(1, 1001)])
    db.session.execute(insert(Track), [{"id": i, "title": f"Song {i}", "title_key": f"song {i}",
                                        "artist_id": 1 + i % 2000, "album_id": 1 + i % 1000} for i in range(1, 10001)])
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="the benchmark's data directory (filled at the first run)")
    parser.add_argument("database_url", nargs="?", help="default: SQLite in DATA_DIR")
    args = parser.parse_args()
    data_dir = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"AIME_DATA_DIR": str(data_dir), "AIME_API_TOKEN": TOKEN, "AIME_LOG_LEVEL": "WARNING"}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    app = create_app(Config.from_env(env))
    runs = int(os.environ.get("RUNS", "30"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parents[1] / "migrations"))
        fill()
        for n in (7, 500, 5000):
            counts = {i: 1 for i in range(1, n + 1)}
            print(f"songs.fold {n:5d} ids        min {{:6.2f}} med {{:6.2f}} ms".format(
                *cpu(lambda c=counts: songs.fold(c), runs)), flush=True)
        pairs = Counter({(i, i + 1): 1 for i in range(1, 100, 2)})
        print("sessions.named_pairs 50      min {:6.2f} med {:6.2f} ms".format(
            *cpu(lambda: sessions.named_pairs(pairs, 50), runs)), flush=True)
        for n in (7, 50):
            ids = list(range(1, n + 1))
            print(f"collection._artists_of {n:2d}   min {{:6.2f}} med {{:6.2f}} ms".format(
                *cpu(lambda i=ids: collection._artists_of(i), runs)), flush=True)
        db.session.remove()
    client = app.test_client()
    body = {"name": "bench", "track_ids": list(range(1, 51))}
    print("POST playlists 50 tracks     min {:6.2f} med {:6.2f} ms".format(
        *cpu(lambda: client.post("/api/v1/playlists", json=body, headers=auth).status_code == 201 or sys.exit(1),
             runs)), flush=True)


if __name__ == "__main__":
    main()
