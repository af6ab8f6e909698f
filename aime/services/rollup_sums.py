"""The per-key sums of a batch of plays for the rollups, in C-level passes (Counter, zip, map) over its columns.

An import adds its plays in batches of 1,000-20,000; a Python loop over the plays, a dict entry per play, cost
more CPU than the rollup statements fed by the sums (docs/benchmarks.md, "SQLite first import, seventh round").
Here each sum is one Counter over zipped columns and Python runs once per key (a track, a bucket), not per play.
Plays with a listened time (Spotify's) are the exception: their seconds are summed in a loop over those plays only.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import islice, repeat
from operator import floordiv, itemgetter, le

from ..models.rollup import BUCKET_SECONDS, LEVEL_ALL, LEVEL_MONTH, LEVEL_YEAR
from .period_cover import DAY_SECONDS, day_units

_DAY_QUARTERS = DAY_SECONDS // BUCKET_SECONDS
_MEMO_LIMIT = 100_000


class _MonthOfDay(dict):
    """UTC day number -> month unit, computed on the first lookup of each day (a batch's plays fall on a few days)."""

    def __missing__(self, day: int) -> int:
        if len(self) > _MEMO_LIMIT:
            self.clear()
        month = self[day] = day_units(day)[0]
        return month


MONTH_OF_DAY = _MonthOfDay()


@dataclass
class Columns:
    """A batch of (track, played_at[, listened seconds or None]) plays as columns, in time order."""

    tracks: list[int]
    times: list[int]
    listened: list[int | None] | None  # None: no play of the batch has a listened time
    months: list[int]  # the UTC month unit of each play

    @classmethod
    def of(cls, pairs: list[tuple]) -> Columns:
        """The columns of `pairs`, sorted by time (stable) unless they already are."""
        times = list(map(itemgetter(1), pairs))
        if not all(map(le, times, islice(times, 1, None))):
            pairs = sorted(pairs, key=itemgetter(1))
            times = list(map(itemgetter(1), pairs))
        try:
            listened = list(map(itemgetter(2), pairs))
        except IndexError:  # some plays are bare (track, time) pairs
            listened = [pair[2] if len(pair) > 2 else None for pair in pairs]
        if listened.count(None) == len(listened):
            listened = None
        months = list(map(MONTH_OF_DAY.__getitem__, map(floordiv, times, repeat(DAY_SECONDS))))
        return cls(list(map(itemgetter(0), pairs)), times, listened, months)

    def measured(self):
        """(index, listened seconds) of the plays that have a listened time."""
        if self.listened is None:
            return []
        return [(i, value) for i, value in enumerate(self.listened) if value is not None]


def buckets(columns: Columns) -> Counter:
    """Plays per 15-minute UTC bucket."""
    return Counter(map(floordiv, columns.times, repeat(BUCKET_SECONDS)))


def quarter_rows(bucket_plays: Counter) -> list[tuple[int, int, int]]:
    """(month, quarter of the day, plays) rows of month_quarter_plays from per-bucket play counts, in key order."""
    quarters: Counter = Counter()
    month_of = MONTH_OF_DAY.__getitem__
    for bucket, plays in bucket_plays.items():
        quarters[(month_of(bucket // _DAY_QUARTERS), bucket % _DAY_QUARTERS)] += plays
    return [(month, quarter, plays) for (month, quarter), plays in sorted(quarters.items())]


def track_totals(columns: Columns) -> list[tuple[int, int, int, int, int, int]]:
    """(track, plays, first played_at, last played_at, listened seconds, plays with a listened time), by track."""
    tracks, times = columns.tracks, columns.times
    plays = Counter(tracks)
    last = dict(zip(tracks, times, strict=True))  # the times are in order: the last write per track is its latest play
    first = dict(zip(reversed(tracks), reversed(times), strict=True))
    seconds: Counter = Counter()
    measured: Counter = Counter()
    for i, value in columns.measured():
        seconds[tracks[i]] += value
        measured[tracks[i]] += 1
    return [(track, n, first[track], last[track], seconds.get(track, 0), measured.get(track, 0))
            for track, n in sorted(plays.items())]


def _month_listened(columns: Columns) -> tuple[Counter, Counter]:
    """Listened seconds and plays with a listened time per (month, track), from the plays that have one."""
    tracks, months = columns.tracks, columns.months
    month_seconds: Counter = Counter()
    month_measured: Counter = Counter()
    for i, value in columns.measured():
        month_seconds[(months[i], tracks[i])] += value
        month_measured[(months[i], tracks[i])] += 1
    return month_seconds, month_measured


def period_tuples(columns: Columns) -> list[tuple[int, int, int, int, int, int]]:
    """One row per (level, unit, track) of track_period_plays (months, years, all time): plays, listened seconds
    and plays with a listened time, in key order."""
    tracks, months = columns.tracks, columns.months
    month_plays = Counter(zip(months, tracks, strict=True))
    every = Counter(tracks)
    first_year, last_year = min(months) // 12, max(months) // 12
    if first_year == last_year:  # the usual batch: its year rows are its all-time rows
        year_plays = {(first_year, track): n for track, n in every.items()}
    else:
        year_plays = Counter(zip(map(floordiv, months, repeat(12)), tracks, strict=True))
    month_seconds, month_measured = _month_listened(columns)
    # Keys are unique, so sorting the rows sorts them by (level, unit, track).
    if not month_seconds:
        rows = [(LEVEL_MONTH, month, track, n, 0, 0) for (month, track), n in month_plays.items()]
        rows += [(LEVEL_YEAR, year, track, n, 0, 0) for (year, track), n in year_plays.items()]
        rows += [(LEVEL_ALL, 0, track, n, 0, 0) for track, n in every.items()]
        rows.sort()
        return rows
    seconds, measured = _listened_by_level(month_seconds), _listened_by_level(month_measured)
    keys = [(LEVEL_MONTH, month, track, n) for (month, track), n in month_plays.items()]
    keys += [(LEVEL_YEAR, year, track, n) for (year, track), n in year_plays.items()]
    keys += [(LEVEL_ALL, 0, track, n) for track, n in every.items()]
    keys.sort()
    return [(level, unit, track, n, seconds.get((level, unit, track), 0), measured.get((level, unit, track), 0))
            for level, unit, track, n in keys]


def month_tuples(columns: Columns) -> list[tuple[int, int, int, int, int, int]]:
    """The month rows of period_tuples alone, (LEVEL_MONTH, month, track, plays, listened seconds, plays with a
    listened time), in key order: the import adds the year and all-time rows from them in SQL
    (rollups.listens_added)."""
    tracks, months = columns.tracks, columns.months
    month_plays = Counter(zip(months, tracks, strict=True))
    month_seconds, month_measured = _month_listened(columns)
    if not month_seconds:
        rows = [(LEVEL_MONTH, month, track, n, 0, 0) for (month, track), n in month_plays.items()]
    else:
        rows = [(LEVEL_MONTH, month, track, n, month_seconds.get((month, track), 0),
                 month_measured.get((month, track), 0)) for (month, track), n in month_plays.items()]
    rows.sort()
    return rows


def _listened_by_level(per_month: Counter) -> Counter:
    """{(level, unit, track): sum} of month, year and all-time rows from {(month, track): sum}."""
    found: Counter = Counter()
    for (month, track), value in per_month.items():
        found[(LEVEL_MONTH, month, track)] += value
        found[(LEVEL_YEAR, month // 12, track)] += value
        found[(LEVEL_ALL, 0, track)] += value
    return found
