"""Listening analytics of a period in a time zone: patterns, heatmap, streaks, discovery, comparison."""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import combinations

from sqlalchemy import func, select

from ..config import Config
from ..errors import InvalidInput
from ..extensions import db
from ..models import Album, Artist, Listen, Track
from ..models.rollup import BUCKET_SECONDS
from ..models.rollup import TrackPlayTotal
from .localtime import DAY_BUCKETS, month_segments, day_of, weekday_of
from .period_cover import day_units
from .sessions import PAIR_PLAYS, fetch_tuples, named_pairs
from .stats import Period, local_plays, per_track, period, top_artists, totals
from .sql_lists import one_of

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DISCOVERY_NAMES = 20  # names listed per month; the counts are always complete


def _head(p: Period) -> dict:
    return {"start_date": p.start_date, "end_date": p.end_date, "tz": p.tz.key}


def _day_count(p: Period, numbers: set[int]) -> int:
    """Local days the period spans: its dates when given, else from the first to the last day with plays."""
    first = p.start_date or (day_of(min(numbers)) if numbers else None)
    last = p.end_date or (day_of(max(numbers)) if numbers else None)
    if first is None or last is None:
        return 0
    return max((last - first).days + 1, 0)


def patterns(config: Config, start_date: date | None = None, end_date: date | None = None,
             tz: str | None = None, min_gap: int = 1800, limit: int = 10) -> dict:
    """Plays by local hour and weekday, the daily average, and artists heard in the same sessions.

    One pass over the period's plays (oldest first) gives the local hours and days and the sessions at once; the
    local hour of a play is that of its 15-minute bucket, as the statistics read it from listen_buckets
    (tests/api/test_patterns_body.py compares the answer with the former per-hour query plus split_sessions)."""
    p = period(config, start_date, end_date, tz)
    rows = fetch_tuples(select(Listen.played_at, Track.artist_id, func.coalesce(Track.duration_seconds, 0))
                        .join(Track, Track.id == Listen.track_id).where(*p.listen_clauses())
                        .order_by(Listen.played_at, Listen.track_id))
    hours, by_day, pairs = _one_pass(rows, p, min_gap)
    numbers, weekdays = set(by_day), [0] * 7
    for day, plays in by_day.items():
        weekdays[weekday_of(day)] += plays
    total = sum(hours)
    span = _day_count(p, numbers)
    return {**_head(p), "total_plays": total, "days": span, "active_days": len(numbers),
            "daily_average": round(total / span, 2) if span else 0.0,
            "peak_hour": max(range(24), key=lambda h: (hours[h], -h)) if any(hours) else None,
            "peak_weekday": WEEKDAYS[max(range(7), key=lambda d: (weekdays[d], -d))] if total else None,
            "by_hour": [{"hour": h, "plays": hours[h]} for h in range(24)],
            "by_weekday": [{"weekday": WEEKDAYS[d], "plays": weekdays[d]} for d in range(7)],
            "min_gap": min_gap,
            "artist_pairs": named_pairs(pairs, limit)}


def _one_pass(rows: list[tuple], p: Period, min_gap: int) -> tuple[list[int], dict[int, int], Counter]:
    """(plays per local hour of day, plays per local day number, sessions shared per artist pair).

    Hours and days: each play counts in its bucket's local hour, (bucket * 900 + offset) / 3600 with SQL's
    truncating division, the offset of the zone's segment holding the bucket, buckets from ceil(lo / 900) on
    (localtime.bucket_span). Sessions: split where the silence after the last-ending play exceeds min_gap
    (sessions.split_sessions); the distinct artists of a session's first PAIR_PLAYS plays pair up
    (sessions.artist_pairs)."""
    hours, by_day, pairs = [0] * 24, defaultdict(int), Counter()
    if not rows:
        return hours, by_day, pairs
    played = [row[0] for row in rows]
    first = -(-p.lo // BUCKET_SECONDS) if p.lo is not None else played[0] // BUCKET_SECONDS
    per_instant: Counter = Counter()
    for start, stop, offset in _segments(p.tz, played[0] // BUCKET_SECONDS, played[-1] // BUCKET_SECONDS):
        i = bisect_left(played, max(start, first) * BUCKET_SECONDS)
        j = bisect_left(played, stop * BUCKET_SECONDS)
        if i < j:
            per_instant.update(x // BUCKET_SECONDS * BUCKET_SECONDS + offset for x in played[i:j])
    hourly: Counter = Counter()
    for instant, plays in per_instant.items():
        hourly[instant // 3600 if instant >= 0 else -(-instant // 3600)] += plays  # SQL's division truncates
    for hour, plays in hourly.items():
        hours[hour % 24] += plays
        by_day[hour // 24] += plays
    end = None
    session: list[int] = []
    for played_at, artist_id, duration in rows:
        if end is None or played_at - end > min_gap:
            _pair_up(session, pairs)
            session, end = [], played_at
        if played_at + duration > end:
            end = played_at + duration
        if len(session) < PAIR_PLAYS:
            session.append(artist_id)
    _pair_up(session, pairs)
    return hours, by_day, pairs


def _pair_up(artists: list[int], pairs: Counter) -> None:
    """Count the pairs (lower id first) of a session's distinct artists."""
    if len(artists) > 1:
        distinct = sorted(set(artists))
        if len(distinct) > 1:
            pairs.update(combinations(distinct, 2))


def _segments(tz, first: int, last: int) -> list[tuple[int, int, int]]:
    """[(first_bucket, stop_bucket, offset)] of the whole UTC months holding buckets first..last, each month cut
    at the zone's offset changes (localtime's cached month segments, as the hours of day are read)."""
    found: list[tuple[int, int, int]] = []
    for month in range(day_units(first // DAY_BUCKETS)[0], day_units(last // DAY_BUCKETS)[0] + 1):
        found.extend(month_segments(tz, month))
    return found


def heatmap(config: Config, start_date: date | None = None, end_date: date | None = None,
            tz: str | None = None) -> dict:
    """A weekday × local-hour matrix of plays (rows Monday..Sunday, columns hours 0..23)."""
    p = period(config, start_date, end_date, tz)
    matrix = [[0] * 24 for _ in range(7)]
    for day, hour, plays in local_plays(p):
        matrix[weekday_of(day)][hour] += plays
    return {**_head(p), "weekdays": list(WEEKDAYS), "hours": list(range(24)), "matrix": matrix,
            "max": max(max(row) for row in matrix), "total": sum(map(sum, matrix))}


def _run(end: date | None, days: int) -> dict:
    if not days or end is None:
        return {"days": 0, "start": None, "end": None}
    return {"days": days, "start": end - timedelta(days=days - 1), "end": end}


def streaks(config: Config, start_date: date | None = None, end_date: date | None = None,
            tz: str | None = None) -> dict:
    """Longest run of consecutive local days with plays, and the run still going at end_date (or today)."""
    p = period(config, start_date, end_date, tz)
    days = [day_of(n) for n in sorted({day for day, _, _ in local_plays(p)})]
    best_len, best_end, run, previous = 0, None, 0, None
    for day in days:
        run = run + 1 if previous is not None and (day - previous).days == 1 else 1
        if run > best_len:
            best_len, best_end = run, day
        previous = day
    reference = end_date or datetime.now(p.tz).date()
    # A run that ended yesterday is still current: today may not have had its first play yet.
    current = run if previous is not None and (reference - previous).days in (0, 1) else 0
    return {**_head(p), "active_days": len(days), "longest": _run(best_end, best_len),
            "current": _run(previous if current else None, current)}


def _first_plays(group_column, p: Period) -> list:
    first = func.min(TrackPlayTotal.first_played_at).label("first")
    query = (select(group_column.label("key"), first).join(Track, Track.id == TrackPlayTotal.track_id)
             .where(group_column.is_not(None)).group_by(group_column))
    if p.lo is not None:
        query = query.having(first >= p.lo)
    if p.hi is not None:
        query = query.having(first < p.hi)
    return db.session.execute(query.order_by(first, group_column)).all()


def discovery(config: Config, start_date: date | None = None, end_date: date | None = None,
              tz: str | None = None) -> dict:
    """Artists and albums first played in the period, counted by local month (first DISCOVERY_NAMES named)."""
    p = period(config, start_date, end_date, tz)
    artists = _first_plays(Track.artist_id, p)
    albums = _first_plays(Track.album_id, p)
    artist_names = dict(db.session.execute(select(Artist.id, Artist.name).where(
        one_of(Artist.id, [r.key for r in artists[:5000]]))).all()) if artists else {}
    months: dict[str, dict] = defaultdict(lambda: {"new_artists": 0, "new_albums": 0, "artists": [], "albums": []})
    for row in artists:
        entry = months[datetime.fromtimestamp(row.first, p.tz).strftime("%Y-%m")]
        entry["new_artists"] += 1
        if len(entry["artists"]) < DISCOVERY_NAMES:
            entry["artists"].append(artist_names.get(row.key) or _name(Artist, row.key))
    album_rows = _album_names([r.key for r in albums])
    for row in albums:
        entry = months[datetime.fromtimestamp(row.first, p.tz).strftime("%Y-%m")]
        entry["new_albums"] += 1
        if len(entry["albums"]) < DISCOVERY_NAMES:
            title, artist = album_rows.get(row.key, ("?", None))
            entry["albums"].append({"id": row.key, "title": title, "artist": artist})
    return {**_head(p), "total_new_artists": len(artists), "total_new_albums": len(albums),
            "months": [{"month": month, **months[month]} for month in sorted(months)]}


def _name(model, key: int) -> str:
    return db.session.get(model, key).name


def _album_names(ids: list[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = db.session.execute(select(Album.id, Album.title, Artist.name).join(
        Artist, Artist.id == Album.primary_artist_id).where(one_of(Album.id, ids[:5000]))).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def _summary(p: Period, limit: int) -> tuple[dict, set[int]]:
    pt = per_track(p)
    artist_ids = set(db.session.scalars(select(Track.artist_id).join(pt, pt.c.track_id == Track.id).distinct()))
    days = {day for day, _, _ in local_plays(p)}
    return ({"start_date": p.start_date, "end_date": p.end_date, **totals(p), "active_days": len(days),
             "top_artists": top_artists(p, limit)}, artist_ids)


def _percent(new: int, old: int) -> float | None:
    return round((new - old) * 100 / old, 1) if old else None


def compare(config: Config, start_date: date, end_date: date, compare_start_date: date,
            compare_end_date: date, tz: str | None = None, limit: int = 5) -> dict:
    """A period against a baseline period: totals of both, differences, artists shared and new."""
    if not all((start_date, end_date, compare_start_date, compare_end_date)):
        raise InvalidInput("Both periods need a start and an end date.")
    current = period(config, start_date, end_date, tz)
    baseline = period(config, compare_start_date, compare_end_date, tz)
    now, now_artists = _summary(current, limit)
    before, before_artists = _summary(baseline, limit)
    return {"tz": current.tz.key, "period": now, "baseline": before, "changes": {
        "plays": now["total_tracks"] - before["total_tracks"],
        "plays_percent": _percent(now["total_tracks"], before["total_tracks"]),
        "duration_seconds": now["total_duration_seconds"] - before["total_duration_seconds"],
        "duration_percent": _percent(now["total_duration_seconds"], before["total_duration_seconds"]),
        "unique_artists": now["unique_artists"] - before["unique_artists"],
        "artists_in_common": len(now_artists & before_artists),
        "new_artists": len(now_artists - before_artists),
        "dropped_artists": len(before_artists - now_artists)}}
