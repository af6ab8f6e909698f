"""Playlists: manual ones from track ids, generated ones from the listening history, and their tracks."""
from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import func, select

from ..config import Config
from ..database import run_write
from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import Album, Artist, Playlist, PlaylistTrack, Track
from ..timeutil import zone
from .playlist_algorithms import Context, algorithms
from .sql_lists import one_of


def entries(playlist_id: int) -> list[dict]:
    """The playlist's tracks in order, with artist and album, in one query."""
    rows = db.session.execute(
        select(PlaylistTrack.position, Track.id, Track.title, Artist.name, Album.title, Track.track_number,
               Track.duration_seconds)
        .join(Track, Track.id == PlaylistTrack.track_id).join(Artist, Artist.id == Track.artist_id)
        .outerjoin(Album, Album.id == Track.album_id)
        .where(PlaylistTrack.playlist_id == playlist_id).order_by(PlaylistTrack.position)).all()
    return [{"position": r[0], "track_id": r[1], "title": r[2], "artist": r[3], "album": r[4],
             "track_number": r[5], "duration_seconds": r[6]} for r in rows]


def _summary(playlist: Playlist, count: int, duration: int) -> dict:
    return {"id": playlist.id, "name": playlist.name, "algorithm": playlist.algorithm,
            "parameters": playlist.parameters or {}, "track_count": count, "duration_seconds": duration,
            "created_at": playlist.created_at}


def list_playlists() -> dict:
    """Every playlist, newest first, with track counts and lengths."""
    counts = (select(PlaylistTrack.playlist_id, func.count().label("n"),
                     func.coalesce(func.sum(Track.duration_seconds), 0).label("seconds"))
              .join(Track, Track.id == PlaylistTrack.track_id).group_by(PlaylistTrack.playlist_id).subquery())
    rows = db.session.execute(
        select(Playlist, func.coalesce(counts.c.n, 0), func.coalesce(counts.c.seconds, 0))
        .outerjoin(counts, counts.c.playlist_id == Playlist.id)
        .order_by(Playlist.created_at.desc(), Playlist.id.desc())).all()
    return {"items": [_summary(p, n, int(s)) for p, n, s in rows], "total": len(rows)}


def get_playlist(playlist_id: int) -> dict:
    """One playlist with its tracks, or 404."""
    playlist = db.session.get(Playlist, playlist_id)
    if playlist is None:
        raise NotFound(f"Playlist {playlist_id} does not exist.")
    tracks = entries(playlist_id)
    return {**_summary(playlist, len(tracks), sum(t["duration_seconds"] or 0 for t in tracks)), "tracks": tracks}


def create_playlist(data: dict) -> dict:
    """A manual playlist from track ids (422 naming the ids that do not exist)."""
    playlist_id = run_write(_save, data["name"], data["track_ids"], "manual", {})
    return get_playlist(playlist_id)


def _save(name: str, track_ids: list[int], algorithm: str, parameters: dict) -> int:
    known = set(db.session.scalars(select(Track.id).where(one_of(Track.id, set(track_ids)))))
    missing = sorted(set(track_ids) - known)
    if missing:
        raise InvalidInput("Some tracks do not exist.", errors={"track_ids": [f"unknown track ids: {missing[:20]}"]})
    playlist = Playlist(name=name, algorithm=algorithm, parameters=parameters)
    db.session.add(playlist)
    db.session.flush()
    db.session.add_all(PlaylistTrack(playlist_id=playlist.id, position=i, track_id=t)
                       for i, t in enumerate(track_ids, start=1))
    return playlist.id


def delete_playlist(playlist_id: int) -> None:
    """Delete a playlist (404 if it does not exist)."""
    run_write(_delete, playlist_id)


def _delete(playlist_id: int) -> None:
    playlist = db.session.get(Playlist, playlist_id)
    if playlist is None:
        raise NotFound(f"Playlist {playlist_id} does not exist.")
    db.session.delete(playlist)


def labels() -> dict[str, str]:
    """Each algorithm's label by name, in the order they are offered."""
    return {name: entry.label for name, entry in algorithms().items()}


def generate_playlist(config: Config, data: dict) -> dict:
    """Build a playlist with the named algorithm; the seed used is kept so it can be reproduced."""
    algorithm = data["algorithm"]
    registry = algorithms()
    entry = registry.get(algorithm)
    if entry is None:
        raise InvalidInput("Unknown algorithm.", errors={"algorithm": [f"choose one of {sorted(registry)}"]})
    seed = data.get("seed")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    tz = zone(data.get("tz"), config.timezone)
    ctx = Context(config=config, tz=tz, rng=random.Random(seed), max_tracks=data.get("max_tracks", 25),
                  days=data.get("days", 30), window_days=data.get("window_days", 365),
                  prompt=data.get("ai_prompt"))
    track_ids = entry.generate(ctx)[:ctx.max_tracks]
    if not track_ids:
        raise InvalidInput("There is not enough listening history for this algorithm yet.",
                           errors={"algorithm": [f"{algorithm} found no tracks"]})
    name = data.get("name") or f"{entry.label} · {datetime.now(tz).date().isoformat()}"
    parameters = {"seed": seed, "max_tracks": ctx.max_tracks, "tz": tz.key}
    parameters.update((knob, getattr(ctx, knob)) for knob in entry.parameters)
    if ctx.prompt:
        parameters["ai_prompt"] = ctx.prompt
    playlist_id = run_write(_save, name, track_ids, algorithm, parameters)
    return get_playlist(playlist_id)
