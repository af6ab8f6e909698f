"""Cover an epoch range [lo, hi) with rollup units (UTC months, years) plus listens at the edges.

A local period rarely starts on a UTC boundary, so each end is rounded to the NEAREST boundary of the next
coarser level and the difference is added or subtracted at the finer level: a year in Asia/Kolkata is one
UTC year row per track, plus the 5.5 hours before it, minus the 5.5 hours at its end (read from the listens);
June 3 to September 27 is four month rows minus two and three days of listens.
The sums are linear, so subtracting is exact; the cost stays near one unit per level whatever the period.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import lru_cache

from ..models.rollup import LEVEL_MONTH, LEVEL_YEAR

LISTENS = 0  # a piece read from the listens themselves, [a, b) in epoch seconds
ALL = 4  # the all-time totals (track_play_totals)
LEVELS = (LEVEL_MONTH, LEVEL_YEAR)  # finest first
DAY_SECONDS = 86400
_EPOCH = date(1970, 1, 1)


@lru_cache(maxsize=65536)
def day_units(day: int) -> tuple[int, int]:
    """(month unit, year unit) of a UTC day number: months and years since 1970-01."""
    d = _EPOCH + timedelta(days=day)
    month = (d.year - 1970) * 12 + d.month - 1
    return month, month // 12


def unit_of(level: int, seconds: int) -> int:
    """The unit of `level` holding an epoch instant."""
    month, year = day_units(seconds // DAY_SECONDS)
    return month if level == LEVEL_MONTH else year


def unit_start(level: int, unit: int) -> int:
    """Epoch seconds at which a unit of `level` starts."""
    year, month = (1970 + unit // 12, unit % 12 + 1) if level == LEVEL_MONTH else (1970 + unit, 1)
    return calendar.timegm((year, month, 1, 0, 0, 0))


def _nearest(level: int, seconds: int) -> int:
    """The unit whose start is the boundary of `level` nearest to an instant (the later one on a tie)."""
    unit = unit_of(level, seconds)
    below, above = unit_start(level, unit), unit_start(level, unit + 1)
    return unit if seconds - below < above - seconds else unit + 1


def _piece(sign: int, level: int, lo: int, hi: int) -> tuple[int, int, int, int]:
    """(sign, level, first, stop) of the range [lo, hi) in seconds, at `level` (seconds for the listens)."""
    if level == LISTENS:
        return sign, LISTENS, lo, hi
    return sign, level, unit_of(level, lo), unit_of(level, hi)


def cover(lo: int, hi: int, first_year: int | None = None, last_year: int | None = None) -> list[tuple]:
    """Signed pieces (sign, level, first, stop) whose sum over [first, stop) at their level equals [lo, hi).

    first_year/last_year (year units holding the oldest and newest listen) allow the all-time totals minus
    the years outside, when that reads fewer years.
    """
    pieces: list[tuple] = []
    finer = LISTENS
    for level in LEVELS:
        a, b = _nearest(level, lo), _nearest(level, hi)
        start, stop = unit_start(level, a), unit_start(level, b)
        edges = abs(start - lo) + abs(hi - stop)
        if a >= b or 2 * edges >= stop - start:
            break  # this level would cost more than it saves: the rest is read at the finer level
        if lo != start:
            pieces.append(_piece(1 if lo < start else -1, finer, min(lo, start), max(lo, start)))
        if hi != stop:
            pieces.append(_piece(1 if stop < hi else -1, finer, min(hi, stop), max(hi, stop)))
        lo, hi, finer = start, stop, level
    if finer == LEVEL_YEAR and first_year is not None and last_year is not None:
        a, b = unit_of(LEVEL_YEAR, lo), unit_of(LEVEL_YEAR, hi)
        outside = max(0, a - first_year) + max(0, last_year + 1 - b)
        if outside < b - a:
            pieces.append((1, ALL, 0, 0))
            if a > first_year:
                pieces.append((-1, LEVEL_YEAR, first_year, a))
            if last_year + 1 > b:
                pieces.append((-1, LEVEL_YEAR, b, last_year + 1))
            return pieces
    pieces.append(_piece(1, finer, lo, hi))
    return pieces
