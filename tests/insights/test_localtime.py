"""Folding UTC buckets into local hours: offsets split exactly at the zone's transitions."""
from __future__ import annotations

from datetime import datetime, UTC
from zoneinfo import ZoneInfo

from aime.services.localtime import day_of, segments, weekday_of


def _bucket(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) // 900


def test_segments_split_at_summer_and_winter_time():
    zurich = ZoneInfo("Europe/Zurich")
    # Summer time starts 31 Mar 2024 01:00Z and ends 27 Oct 2024 01:00Z.
    first, stop = _bucket("2024-03-30T00:00:00"), _bucket("2024-10-28T00:00:00")
    assert segments(zurich, first, stop) == [
        (first, _bucket("2024-03-31T01:00:00"), 3600),
        (_bucket("2024-03-31T01:00:00"), _bucket("2024-10-27T01:00:00"), 7200),
        (_bucket("2024-10-27T01:00:00"), stop, 3600)]


def test_a_change_in_the_last_partial_day_is_found():
    first, stop = _bucket("2024-03-30T12:00:00"), _bucket("2024-03-31T06:00:00")
    change = _bucket("2024-03-31T01:00:00")
    assert segments(ZoneInfo("Europe/Zurich"), first, stop) == [(first, change, 3600), (change, stop, 7200)]
    assert segments(ZoneInfo("Europe/Zurich"), change - 1, change + 1) == [(change - 1, change, 3600),
                                                                          (change, change + 1, 7200)]
    assert segments(ZoneInfo("Europe/Zurich"), change, change + 1) == [(change, change + 1, 7200)]


def test_fixed_and_odd_offsets():
    first, stop = _bucket("2024-01-01T00:00:00"), _bucket("2025-01-01T00:00:00")
    assert segments(ZoneInfo("UTC"), first, stop) == [(first, stop, 0)]
    assert segments(ZoneInfo("Asia/Kathmandu"), first, stop) == [(first, stop, 5 * 3600 + 45 * 60)]


def test_day_numbers():
    assert str(day_of(0)) == "1970-01-01" and weekday_of(0) == 3  # a Thursday
    number = (datetime(2024, 1, 6) - datetime(1970, 1, 1)).days
    assert str(day_of(number)) == "2024-01-06" and weekday_of(number) == 5  # Saturday
