"""A song is its artist and title: play counts of track rows (one per album) folded into songs.

Every "most played" pick counts a song across the albums it appears on and stands for it with one track
row: the one of its most played album (a row with an album before one without, then more plays, then the
older row), the same rule as the top tracks (stats.top_tracks).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import func, select

from ..extensions import db
from ..models import Track
from ..models.rollup import TrackPlayTotal
from .sql_lists import one_of

_CHUNK = 5000  # ids per IN list


def _keys(track_ids: Iterable[int]) -> dict[int, tuple[int, str, bool]]:
    """track id -> (artist_id, title_key, has an album)."""
    ids, found = list(track_ids), {}
    for i in range(0, len(ids), _CHUNK):
        for row in db.session.execute(select(Track.id, Track.artist_id, Track.title_key, Track.album_id)
                                      .where(one_of(Track.id, ids[i:i + _CHUNK]))):
            found[row.id] = (row.artist_id, row.title_key, row.album_id is not None)
    return found


def fold(counts: Mapping[int, int]) -> list[tuple[int, int, int]]:
    """(representative track id, artist_id, song plays) for the songs of per-track counts, most played
    first (ties: the representative's id)."""
    keys = _keys(counts)
    songs: dict[tuple[int, str], list] = {}
    for track_id, plays in counts.items():
        artist_id, title_key, has_album = keys[track_id]
        entry = songs.setdefault((artist_id, title_key), [0, None])
        entry[0] += plays
        rank = (has_album, plays, -track_id)
        if entry[1] is None or rank > entry[1][0]:
            entry[1] = (rank, track_id)
    folded = [(best[1], key[0], plays) for key, (plays, best) in songs.items()]
    return sorted(folded, key=lambda row: (-row[2], row[0]))


def all_time_songs() -> list[dict]:
    """Every song with plays or loved: representative track id, plays, last play, loved (any of its rows)."""
    rows = db.session.execute(
        select(Track.id, Track.artist_id, Track.title_key, Track.album_id, Track.loved,
               func.coalesce(TrackPlayTotal.plays, 0).label("plays"),
               func.coalesce(TrackPlayTotal.last_played_at, 0).label("last"))
        .outerjoin(TrackPlayTotal, TrackPlayTotal.track_id == Track.id)
        .where((TrackPlayTotal.plays > 0) | Track.loved.is_(True))).all()
    songs: dict[tuple[int, str], dict] = {}
    for row in rows:
        song = songs.setdefault((row.artist_id, row.title_key), {"plays": 0, "last": 0, "loved": False, "best": None})
        song["plays"] += row.plays
        song["last"] = max(song["last"], row.last)
        song["loved"] = song["loved"] or row.loved
        rank = (row.album_id is not None, row.plays, -row.id)
        if song["best"] is None or rank > song["best"][0]:
            song["best"] = (rank, row.id)
    return [{"track_id": s["best"][1], "plays": s["plays"], "last": s["last"], "loved": s["loved"]}
            for s in songs.values()]
