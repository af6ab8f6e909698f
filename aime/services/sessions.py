"""Listening sessions: plays separated by less than `min_gap` seconds of silence, and who plays together."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations

from sqlalchemy import func, select

from ..config import Config
from ..extensions import db
from ..models import Artist, Listen, Track
from .paging import page_of
from .stats import Period, period
from .sql_lists import one_of


PAIR_PLAYS = 60  # plays of a session considered for artist pairs (bounds the quadratic cost)


@dataclass
class Session:
    """Consecutive plays; `end` is when the last-ending track finished (unknown durations count 0)."""

    start: int
    end: int
    track_ids: list[int] = field(default_factory=list)
    artist_ids: list[int] = field(default_factory=list)


def play_rows(p: Period) -> list:
    """(played_at, track_id, artist_id, duration) of the period's plays, oldest first."""
    query = (select(Listen.played_at, Listen.track_id, Track.artist_id, func.coalesce(Track.duration_seconds, 0))
             .join(Track, Track.id == Listen.track_id).where(*p.listen_clauses())
             .order_by(Listen.played_at, Listen.track_id))
    return fetch_tuples(query)


def fetch_tuples(query) -> list[tuple]:
    """Rows as plain DB-API tuples: a year can be 100,000+ rows and building Row objects costs more than the query.

    The bounds in these queries are integers, so rendering them inline is safe.
    """
    connection = db.session.connection()
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def split_sessions(rows, min_gap: int) -> list[Session]:
    """Cut oldest-first plays into sessions wherever the silence after a play exceeds min_gap seconds."""
    found: list[Session] = []
    current: Session | None = None
    for played_at, track_id, artist_id, duration in rows:
        if current is None or played_at - current.end > min_gap:
            current = Session(start=played_at, end=played_at)
            found.append(current)
        current.end = max(current.end, played_at + duration)
        current.track_ids.append(track_id)
        current.artist_ids.append(artist_id)
    return found


def _session_item(session: Session, p: Period) -> dict:
    return {"start": session.start, "end": session.end, "tracks": len(session.track_ids),
            "duration_seconds": session.end - session.start, "artists": len(set(session.artist_ids)),
            "start_local": datetime.fromtimestamp(session.start, p.tz).isoformat(),
            "end_local": datetime.fromtimestamp(session.end, p.tz).isoformat()}


def list_sessions(config: Config, start_date: date | None = None, end_date: date | None = None,
                  tz: str | None = None, min_gap: int = 1800, page: int = 1, page_size: int = 50) -> dict:
    """The sessions of a period, newest first, one page, with their count and average length."""
    p = period(config, start_date, end_date, tz)
    found = split_sessions(play_rows(p), min_gap)
    durations = [s.end - s.start for s in found]
    newest_first = page_of(found[::-1], page, page_size, lambda s: _session_item(s, p))
    return {"start_date": start_date, "end_date": end_date, "tz": p.tz.key, "min_gap": min_gap,
            "average_duration_seconds": round(sum(durations) / len(found)) if found else 0,
            "longest_duration_seconds": max(durations, default=0), **newest_first.as_dict()}


def artist_pairs(found: list[Session]) -> Counter:
    """How many sessions each unordered pair of artists (lower id first) shared."""
    pairs: Counter = Counter()
    for session in found:
        # Artists of the first PAIR_PLAYS plays of a session: pairs grow with the square of the artists.
        artists = sorted(dict.fromkeys(session.artist_ids[:PAIR_PLAYS]))
        pairs.update(combinations(artists, 2))
    return pairs


def cooccurrence(found: list[Session], limit: int) -> list[dict]:
    """The artist pairs heard together in the most sessions, with their names."""
    return named_pairs(artist_pairs(found), limit)


def named_pairs(pairs: Counter, limit: int) -> list[dict]:
    """The `limit` pairs of artist ids shared by the most sessions, with their names (ties by name)."""
    if len(pairs) > limit:
        # Only pairs tied with the last one kept need their names (for the tie order).
        cutoff = sorted(pairs.values(), reverse=True)[limit - 1]
        pairs = Counter({pair: n for pair, n in pairs.items() if n >= cutoff})
    ids = {a for pair in pairs for a in pair}
    names = dict(db.session.execute(select(Artist.id, Artist.name).where(one_of(Artist.id, ids))).all()) if ids else {}
    named = [(sorted([names[a], names[b]]), count) for (a, b), count in pairs.items()]
    named.sort(key=lambda item: (-item[1], item[0]))
    return [{"artists": pair, "sessions": count} for pair, count in named[:limit]]

