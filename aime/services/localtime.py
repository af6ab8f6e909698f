"""Fold the 15-minute UTC play buckets into local hours of an IANA zone, in SQL.

Between two UTC-offset changes a zone is a fixed offset, so the local hour of a bucket is plain
arithmetic; the period is cut at the zone's transitions and each piece is grouped by the database.
Hours of day (summed over the days) read whole UTC months from month_quarter_plays instead of their buckets.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import text

from ..extensions import db
from ..models.rollup import BUCKET_SECONDS, LEVEL_MONTH
from .period_cover import day_units, unit_start
from .sql_lists import among

EPOCH_DAY = date(1970, 1, 1)
DAY_BUCKETS = 86400 // BUCKET_SECONDS


def offset_at(tz: ZoneInfo, seconds: int) -> int:
    """The zone's UTC offset, in seconds, at an epoch instant."""
    return int(datetime.fromtimestamp(seconds, UTC).astimezone(tz).utcoffset().total_seconds())


def segments(tz: ZoneInfo, first: int, stop: int) -> list[tuple[int, int, int]]:
    """[(first_bucket, stop_bucket, offset)] covering buckets [first, stop) with one offset each.

    Probes one day at a time, then bisects to the exact bucket where the offset changes.
    """
    found, start, probe = [], first, first
    current = offset_at(tz, first * BUCKET_SECONDS)
    last = stop - 1
    while probe < last:
        nxt = min(probe + DAY_BUCKETS, last)
        if offset_at(tz, nxt * BUCKET_SECONDS) == current:
            probe = nxt
            continue
        low, high = probe, nxt  # offset(low) == current != offset(high)
        while high - low > 1:
            mid = (low + high) // 2
            if offset_at(tz, mid * BUCKET_SECONDS) == current:
                low = mid
            else:
                high = mid
        found.append((start, high, current))
        start, probe, current = high, high, offset_at(tz, high * BUCKET_SECONDS)
    found.append((start, stop, current))
    return found


def bucket_span(lo: int | None, hi: int | None) -> tuple[int, int] | None:
    """Bucket bounds [first, stop) of an epoch range, open ends taken from the data; None when empty."""
    if lo is None or hi is None:
        # Two subqueries: SQLite answers a lone MIN or MAX from the index, but scans every row for both at once.
        row = db.session.execute(text("SELECT (SELECT MIN(bucket) FROM listen_buckets), "
                                      "(SELECT MAX(bucket) FROM listen_buckets)")).one()
        if row[0] is None:
            return None
        first = -(-lo // BUCKET_SECONDS) if lo is not None else row[0]
        stop = -(-hi // BUCKET_SECONDS) if hi is not None else row[1] + 1
    else:
        first, stop = -(-lo // BUCKET_SECONDS), -(-hi // BUCKET_SECONDS)
    return (first, stop) if stop > first else None


def local_hours(tz: ZoneInfo, lo: int | None, hi: int | None) -> list[tuple[int, int, int]]:
    """(local day number since 1970-01-01, local hour, plays) for every local hour with plays."""
    rows = _by_local_hour(tz, lo, hi, "(bucket * 900 + :o{i}) / 3600")
    return [(int(h) // 24, int(h) % 24, int(n)) for h, n in rows]


def hours_of_day(tz: ZoneInfo, lo: int | None, hi: int | None) -> list[int]:
    """Plays per local hour of day 0..23 (summed over the days), from the month rollup and the buckets."""
    hours = [0] * 24
    span = bucket_span(lo, hi)
    if span is None:
        return hours
    months, pieces = _hour_pieces(tz, *span)
    for offset, units in months.items():
        months_in, values = among("month", units, "months")
        for quarter, plays in db.session.execute(text(_MONTH_QUARTERS.format(months_in=months_in)), values):
            hours[((quarter * BUCKET_SECONDS + offset) // 3600) % 24] += int(plays)
    for i in range(0, len(pieces), _PARTS):  # SQLite allows at most 500 terms in a compound SELECT
        for h, n in _signed_hours(pieces[i:i + _PARTS]):
            hours[int(h)] += int(n)
    return hours


_MONTH_QUARTERS = "SELECT quarter, SUM(plays) FROM month_quarter_plays WHERE {months_in} GROUP BY quarter"
_PARTS = 200
_MONTH_ROWS = 96  # what reading a month's row costs, counted in buckets


@lru_cache(maxsize=8192)
def month_segments(tz: ZoneInfo, month: int) -> tuple[tuple[int, int, int], ...]:
    """segments() of one whole UTC month (a zone's rules do not change while AIME runs)."""
    first, stop = (unit_start(LEVEL_MONTH, m) // BUCKET_SECONDS for m in (month, month + 1))
    return tuple(segments(tz, first, stop))


def _hour_pieces(tz: ZoneInfo, first: int, stop: int) -> tuple[dict[int, list[int]], list[tuple]]:
    """({offset: [UTC months read whole with it]}, [(sign, first, stop, offset) bucket pieces]) summing to the
    local hours of buckets [first, stop).

    A month row is read with the offset the zone keeps longest in it; the rest of the month is corrected from
    its buckets: minus the parts outside [first, stop), and for the days on another offset (a DST change) minus
    them at the month's offset plus them at their own. Signed sums of counts are exact.
    """
    months: dict[int, list[int]] = {}
    pieces: list[tuple] = []
    for month in range(day_units(first // DAY_BUCKETS)[0], day_units((stop - 1) // DAY_BUCKETS)[0] + 1):
        segs = month_segments(tz, month)
        start, end = segs[0][0], segs[-1][1]
        a, b = max(first, start), min(stop, end)
        inside = [(max(a, s), min(b, e), o) for s, e, o in segs if max(a, s) < min(b, e)]
        base = max(segs, key=lambda seg: seg[1] - seg[0])[2]
        fix = [(-1, start, a, base)] if a > start else []
        fix += [(-1, b, end, base)] if end > b else []
        for s, e, o in inside:
            if o != base:
                fix += [(1, s, e, o), (-1, s, e, base)]
        if _MONTH_ROWS + sum(e - s for _, s, e, _ in fix) < b - a:
            months.setdefault(base, []).append(month)
            pieces += fix
        else:
            pieces += [(1, s, e, o) for s, e, o in inside]
    return months, pieces


def _signed_hours(pieces: list[tuple]) -> list:
    """(local hour of day, signed plays) grouped, over signed bucket pieces (sign, first, stop, offset)."""
    parts, params = [], {}
    for i, (sign, first, stop, offset) in enumerate(pieces):
        parts.append(f"SELECT ((bucket * 900 + :o{i}) / 3600) % 24 AS h, plays * :s{i} AS plays FROM listen_buckets "
                     f"WHERE bucket >= :a{i} AND bucket < :b{i}")
        params.update({f"o{i}": offset, f"s{i}": sign, f"a{i}": first, f"b{i}": stop})
    if not parts:
        return []
    query = text(f"SELECT h, SUM(plays) FROM ({' UNION ALL '.join(parts)}) AS pieces GROUP BY h")
    return db.session.execute(query, params).all()


def _by_local_hour(tz: ZoneInfo, lo: int | None, hi: int | None, hour_sql: str) -> list:
    """(hour_sql value, plays) grouped, over the buckets of [lo, hi) cut at the zone's offset changes."""
    span = bucket_span(lo, hi)
    if span is None:
        return []
    parts, params = [], {}
    for i, (first, stop, offset) in enumerate(segments(tz, *span)):
        parts.append(f"SELECT {hour_sql.format(i=i)} AS h, plays FROM listen_buckets "
                     f"WHERE bucket >= :a{i} AND bucket < :b{i}")
        params.update({f"o{i}": offset, f"a{i}": first, f"b{i}": stop})
    query = text(f"SELECT h, SUM(plays) FROM ({' UNION ALL '.join(parts)}) AS pieces GROUP BY h ORDER BY h")
    return db.session.execute(query, params).all()


def day_of(number: int) -> date:
    """The calendar date of a local day number."""
    return EPOCH_DAY + timedelta(days=number)


def weekday_of(number: int) -> int:
    """Monday=0 .. Sunday=6 of a local day number (1970-01-01 was a Thursday)."""
    return (number + 3) % 7
