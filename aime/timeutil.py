"""UTC instants stored as epoch seconds; ISO 8601 in and out; IANA zones for grouping."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, UTC
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def to_epoch(moment: datetime) -> int:
    """Epoch seconds for an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def from_epoch(seconds: int | float) -> datetime:
    """Aware UTC datetime for epoch seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso(seconds: int | float | None) -> str | None:
    """ISO 8601 with a Z for epoch seconds."""
    if seconds is None:
        return None
    return from_epoch(seconds).isoformat().replace("+00:00", "Z")


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The IANA zone called `name`, or a 422 naming the bad value."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("Unknown time zone.", errors={"tz": [f"{name!r} is not an IANA time zone"]}) from None


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) epoch seconds of a local calendar day (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return to_epoch(start), to_epoch(end)


def range_bounds(start: date | None, end: date | None, tz: ZoneInfo) -> tuple[int | None, int | None]:
    """Epoch bounds [start-of-start-day, start-of-day-after-end) in tz; None where open."""
    lo = day_bounds(start, tz)[0] if start else None
    hi = day_bounds(end, tz)[1] if end else None
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput("end_date is before start_date.", errors={"end_date": ["must not be before start_date"]})
    return lo, hi
