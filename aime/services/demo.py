"""A small, believable collection and listening history for a first look."""
from __future__ import annotations

import random

from sqlalchemy import select

from ..config import Config
from ..database import run_write
from ..extensions import db
from ..models import Album, Listen
from ..text import normalise
from . import rollups
from .catalog import get_or_create_artist
from .collection import _create_album
from .history import is_duplicate

DEMO_ALBUMS = [
    ("Homogenic", ["Björk"], 1997, "Vinyle", "Electronic", ["One Little Indian"],
     [("Hunter", 255), ("Jóga", 305), ("Unravel", 201), ("Bachelorette", 312), ("All Neon Like", 353)]),
    ("Kind of Blue", ["Miles Davis"], 1959, "Vinyle", "Jazz", ["Columbia"],
     [("So What", 562), ("Freddie Freeloader", 586), ("Blue in Green", 337), ("All Blues", 693)]),
    ("OK Computer", ["Radiohead"], 1997, "CD", "Alternative Rock", ["Parlophone"],
     [("Airbag", 284), ("Paranoid Android", 383), ("Karma Police", 264), ("No Surprises", 229)]),
    ("Mezzanine", ["Massive Attack"], 1998, "CD", "Trip Hop", ["Circa", "Virgin"],
     [("Angel", 379), ("Risingson", 298), ("Teardrop", 330), ("Inertia Creeps", 356)]),
    ("Random Access Memories", ["Daft Punk"], 2013, "Vinyle", "Electronic", ["Columbia"],
     [("Give Life Back to Music", 274), ("Instant Crush", 337), ("Get Lucky", 369), ("Contact", 381)]),
    ("Night Time Stories", ["Khruangbin", "Leon Bridges"], 2020, "Vinyle", "Soul", ["Dead Oceans"],
     [("C-Side", 243), ("Texas Sun", 252), ("Conversion", 284)]),
]


def load_demo_data(config: Config, days: int = 30, seed: int = 7) -> dict:
    """Add the demo albums (skipping those present) and about `days` days of plays."""
    return run_write(_load, config, days, seed)


def _load(config: Config, days: int, seed: int) -> dict:
    rng = random.Random(seed)
    albums_added = 0
    album_ids = []
    for title, artists, year, support, genre, labels, tracks in DEMO_ALBUMS:
        primary = get_or_create_artist(artists[0])
        existing = db.session.scalar(select(Album).where(Album.title_key == normalise(title),
                                                         Album.primary_artist_id == primary.id))
        if existing is not None and existing.in_collection:
            album_ids.append(existing.id)
            continue
        data = {"title": title, "artists": artists, "year": year, "support": support, "genre": genre,
                "labels": labels, "tracks": [{"title": t, "track_number": i, "duration_seconds": d}
                                             for i, (t, d) in enumerate(tracks, start=1)]}
        album_ids.append(_create_album(data, "demo"))
        albums_added += 1
    now = int(__import__("time").time())
    listens = 0
    for day in range(days, -1, -1):
        moment = now - day * 86400 - rng.randint(3, 14) * 3600
        for _ in range(rng.randint(0, 2)):
            album = db.session.get(Album, rng.choice(album_ids))
            for track in album.tracks:
                if moment < now and not is_duplicate(track.id, moment, config.dedup_window_seconds):
                    db.session.add(Listen(track_id=track.id, played_at=moment, source="demo"))
                    db.session.flush()
                    rollups.listens_added(db.session, [(track.id, moment)])
                    listens += 1
                moment += track.duration_seconds or 180
            moment += rng.randint(600, 7200)
    return {"albums": albums_added, "listens": listens}
