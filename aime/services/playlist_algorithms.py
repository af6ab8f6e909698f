"""Playlist generators: one registry entry per algorithm (function, label, parameters), each deterministic for a seed.

Adding an algorithm is one decorated function here (plus its test): the API schema, its OpenAPI enum, the
playlists page and the parameters kept on a generated playlist all derive from the registry.
"""
from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context
from sqlalchemy import func, select

from ..config import Config
from ..extensions import db
from ..models import Track
from ..models.rollup import TrackPlayTotal
from .sessions import artist_pairs, play_rows, split_sessions
from . import songs
from .ai_playlist import generate_ai_playlist
from .stats import Period, local_plays, peak_hour, per_track, top_tracks
from .sql_lists import one_of

SESSION_GAP = 1800
MUCH_PLAYED = 3  # plays that make a track "much played" for rediscovery
AI_CANDIDATES = 200


@dataclass
class Context:
    """What a generator may use: settings, zone, seeded random source and the request's knobs."""

    config: Config
    tz: ZoneInfo
    rng: random.Random
    max_tracks: int
    days: int = 30
    window_days: int = 365
    prompt: str | None = None


Generator = Callable[[Context], list[int]]
KEY = "aime.playlist_algorithms"
# Knobs of the generate request an algorithm may use; those it names are kept on the playlist.
KNOBS = ("days", "window_days")


@dataclass(frozen=True)
class Algorithm:
    """One playlist algorithm: its name, the label people see, its generator and the knobs it uses."""

    name: str
    label: str
    generate: Generator
    parameters: tuple[str, ...] = ()


BUILT_INS: dict[str, Algorithm] = {}


def algorithm(name: str, label: str, parameters: tuple[str, ...] = ()) -> Callable[[Generator], Generator]:
    """Declare a built-in generator under `name`, shown as `label`, using the request knobs `parameters`."""
    unknown = set(parameters) - set(KNOBS)
    if unknown:
        raise ValueError(f"unknown playlist parameters {sorted(unknown)}; known: {KNOBS}")

    def register(fn: Generator) -> Generator:
        """Add fn to the built-ins and return it unchanged."""
        BUILT_INS[name] = Algorithm(name, label, fn, parameters)
        return fn
    return register


def algorithms(app: Flask | None = None) -> Mapping[str, Algorithm]:
    """The app's algorithms by name, in the order they are offered (the built-ins outside an app)."""
    if app is None:
        if not has_app_context():
            return BUILT_INS  # e.g. while create_app builds the OpenAPI spec
        app = current_app
    return app.extensions.setdefault(KEY, dict(BUILT_INS))


def register_algorithm(app: Flask, entry: Algorithm) -> None:
    """Offer one more algorithm in this app (plugins and tests); its name must be new."""
    registry = algorithms(app)
    if entry.name in registry:
        raise ValueError(f"playlist algorithm {entry.name!r} is already registered")
    registry[entry.name] = entry


def _window(ctx: Context) -> Period | None:
    """The last window_days of history, ending at the latest play (None without plays)."""
    latest = db.session.scalar(select(func.max(TrackPlayTotal.last_played_at)))
    if latest is None:
        return None
    return Period(None, None, ctx.tz, latest - ctx.window_days * 86400 + 1, latest + 1)


def _tracks_by_plays(p: Period) -> list:
    """(track_id, artist_id, plays) of the window per song (across albums), most played first."""
    pt = per_track(p)
    return songs.fold(dict(db.session.execute(select(pt.c.track_id, pt.c.plays)).all()))


def _artist_tracks(rows) -> tuple[list[int], dict[int, list[int]]]:
    """Artists by plays (ties by id) and each artist's tracks by plays."""
    plays: Counter = Counter()
    tracks: dict[int, list[int]] = defaultdict(list)
    for track_id, artist_id, count in rows:
        plays[artist_id] += count
        tracks[artist_id].append(track_id)
    return sorted(plays, key=lambda a: (-plays[a], a)), tracks


def _unique(ids, limit: int) -> list[int]:
    seen, out = set(), []
    for track_id in ids:
        if track_id not in seen:
            seen.add(track_id)
            out.append(track_id)
            if len(out) == limit:
                break
    return out


def _sample_in_order(pool: list, k: int, rng: random.Random) -> list:
    """k items of pool chosen at random, kept in pool order."""
    return [pool[i] for i in sorted(rng.sample(range(len(pool)), min(k, len(pool))))]


@algorithm("top_sessions", "Top sessions", ("window_days",))
def top_sessions(ctx: Context) -> list[int]:
    """Tracks of the longest recent sessions (ten longest, in a seeded order), as they were played."""
    p = _window(ctx)
    if p is None:
        return []
    sessions = sorted(split_sessions(play_rows(p), SESSION_GAP), key=lambda s: (-len(s.track_ids), -s.start))[:10]
    ctx.rng.shuffle(sessions)
    return _unique((t for s in sessions for t in s.track_ids), ctx.max_tracks)


@algorithm("artist_correlations", "Artists that go together", ("window_days",))
def artist_correlations(ctx: Context) -> list[int]:
    """A top artist (seeded pick) and the artists most often heard in the same sessions, round-robin."""
    p = _window(ctx)
    if p is None:
        return []
    artists, tracks = _artist_tracks(_tracks_by_plays(p))
    anchor = ctx.rng.choice(artists[:5])
    pairs = artist_pairs(split_sessions(play_rows(p), SESSION_GAP))
    related = sorted(((b if a == anchor else a, n) for (a, b), n in pairs.items() if anchor in (a, b)),
                     key=lambda item: (-item[1], item[0]))
    order = [anchor] + [artist for artist, _ in related]
    rounds = (tracks[a][i] for i in range(max(len(tracks[a]) for a in order)) for a in order if i < len(tracks[a]))
    return _unique(rounds, ctx.max_tracks)


@algorithm("artist_flow", "Artist flow", ("window_days",))
def artist_flow(ctx: Context) -> list[int]:
    """Walk from a top artist to the artist most often played next, two tracks each."""
    p = _window(ctx)
    if p is None:
        return []
    artists, tracks = _artist_tracks(_tracks_by_plays(p))
    following: dict[int, Counter] = defaultdict(Counter)
    for session in split_sessions(play_rows(p), SESSION_GAP):
        for a, b in pairwise(session.artist_ids):
            if a != b:
                following[a][b] += 1
    rank = {a: i for i, a in enumerate(artists)}
    current, visited, out = ctx.rng.choice(artists[:5]), set(), []
    while current is not None and len(out) < ctx.max_tracks:
        visited.add(current)
        out += _sample_in_order(tracks[current][:3], 2, ctx.rng)
        nexts = [b for b in sorted(following[current], key=lambda b: (-following[current][b], rank[b]))
                 if b not in visited]
        current = nexts[0] if nexts else next((a for a in artists if a not in visited), None)
    return _unique(out, ctx.max_tracks)


@algorithm("time_based", "Peak hour", ("window_days",))
def time_based(ctx: Context) -> list[int]:
    """Tracks most played at your peak local hour (a seeded pick among the top ones)."""
    p = _window(ctx)
    if p is None:
        return []
    hour = peak_hour(local_plays(p))
    counts: Counter = Counter()
    for played_at, track_id, _, _ in play_rows(p):
        if datetime.fromtimestamp(played_at, ctx.tz).hour == hour:
            counts[track_id] += 1
    pool = [track_id for track_id, _, _ in songs.fold(counts)][:ctx.max_tracks * 2]
    return _sample_in_order(pool, ctx.max_tracks, ctx.rng)


@algorithm("complete_albums", "Complete albums")
def complete_albums(ctx: Context) -> list[int]:
    """Whole albums in track order, from those played most completely and most often."""
    rows = db.session.execute(
        select(Track.album_id, Track.id, func.coalesce(TrackPlayTotal.plays, 0))
        .outerjoin(TrackPlayTotal, TrackPlayTotal.track_id == Track.id)
        .where(Track.album_id.is_not(None), Track.track_number.is_not(None))
        .order_by(Track.album_id, Track.track_number, Track.id)).all()
    albums: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for album_id, track_id, plays in rows:
        albums[album_id].append((track_id, plays))
    scored = [(sum(1 for _, n in t if n) / len(t), sum(n for _, n in t), a) for a, t in albums.items()
              if len(t) >= 3 and any(n for _, n in t)]
    pool = [a for _, _, a in sorted(scored, key=lambda s: (-s[0], -s[1], s[2]))[:10]]
    ctx.rng.shuffle(pool)
    out: list[int] = []
    for album_id in pool:
        ids = [t for t, _ in albums[album_id]]
        if out and len(out) + len(ids) > ctx.max_tracks:
            continue
        out += ids
    return out[:ctx.max_tracks]


@algorithm("rediscovery", "Rediscovery", ("days",))
def rediscovery(ctx: Context) -> list[int]:
    """Loved or much-played tracks not heard for `days` days, loved first then by plays."""
    cutoff = int(time.time()) - ctx.days * 86400
    # Per song: a song played on three albums is much played with its plays together, and heard when any was.
    found = [s for s in songs.all_time_songs() if s["last"] < cutoff and (s["loved"] or s["plays"] >= MUCH_PLAYED)]
    found.sort(key=lambda s: (not s["loved"], -s["plays"], s["track_id"]))
    return _sample_in_order([s["track_id"] for s in found[:ctx.max_tracks * 2]], ctx.max_tracks, ctx.rng)


@algorithm("ai_generated", "AI selection")
def ai_generated(ctx: Context) -> list[int]:
    """Ask the configured AI endpoint to choose among the most played tracks (503 when not configured)."""
    top = top_tracks(Period(None, None, ctx.tz, None, None), AI_CANDIDATES)  # songs, across albums
    loved = set(db.session.scalars(select(Track.id).where(one_of(Track.id, [t["id"] for t in top]), Track.loved)))
    candidates = [{"track_id": t["id"], "title": t["name"], "artist": t["artist"], "album": t["album"],
                   "plays": t["plays"], "loved": t["id"] in loved} for t in top]
    chosen = generate_ai_playlist(ctx.config, ctx.prompt, candidates, ctx.max_tracks, ctx.rng)
    known = {c["track_id"] for c in candidates}
    return _unique((t for t in chosen if t in known), ctx.max_tracks)
