"""/history/patterns computed in one pass over the plays answers byte for byte what the former implementation did
(local hours from the per-hour bucket query, sessions from split_sessions, pairs from cooccurrence), on a fixed
generated history, in zones with odd offsets and DST, for all time and bounded periods, several gaps and limits."""
from __future__ import annotations

import pytest

from aime.api import conditional
from aime.config import Config
from aime.services import analytics as analytics_service
from aime.services.analytics import WEEKDAYS, _day_count, _head
from aime.services.localtime import weekday_of
from aime.services.sessions import cooccurrence, play_rows, split_sessions
from aime.services.stats import local_plays, peak_hour, period
from bench import make_dataset

ZONES = ("UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham")
QUERIES = ("", "start_date=2019-03-30&end_date=2020-11-01", "start_date=2024-10-26&end_date=2025-04-06",
           "start_date=2016-01-01&end_date=2016-12-31&min_gap=600&limit=3",
           "min_gap=86400&limit=25", "start_date=2030-01-01&end_date=2030-01-31")


def former_patterns(config: Config, start_date=None, end_date=None, tz=None, min_gap: int = 1800,
                    limit: int = 10) -> dict:
    """analytics.patterns as it was before the one-pass version (3c90e28), kept here as the reference."""
    p = period(config, start_date, end_date, tz)
    local = local_plays(p)
    hours, weekdays, numbers = [0] * 24, [0] * 7, set()
    for day, hour, plays in local:
        hours[hour] += plays
        weekdays[weekday_of(day)] += plays
        numbers.add(day)
    total = sum(hours)
    span = _day_count(p, numbers)
    return {**_head(p), "total_plays": total, "days": span, "active_days": len(numbers),
            "daily_average": round(total / span, 2) if span else 0.0,
            "peak_hour": peak_hour(local),
            "peak_weekday": WEEKDAYS[max(range(7), key=lambda d: (weekdays[d], -d))] if total else None,
            "by_hour": [{"hour": h, "plays": hours[h]} for h in range(24)],
            "by_weekday": [{"weekday": WEEKDAYS[d], "plays": weekdays[d]} for d in range(7)],
            "min_gap": min_gap,
            "artist_pairs": cooccurrence(split_sessions(play_rows(p), min_gap), limit)}


@pytest.fixture
def generated(app, runner, tmp_path):
    """2,500 generated plays over 15 years (bench/make_dataset.py, seed 7), imported as a Last.fm CSV."""
    meta = make_dataset.write(2_500, tmp_path / "data", seed=7)
    result = runner.invoke(args=["import", str(tmp_path / "data" / meta["files"]["csv"])])
    assert result.exit_code == 0, result.output
    return meta


def _body(client, app, path: str) -> bytes:
    conditional.response_cache(app)._entries.clear()  # noqa: SLF001 - every read computed
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


def test_patterns_answer_the_former_bodies_byte_for_byte(app, client, generated, monkeypatch):
    paths = [f"/api/v1/history/patterns?tz={tz}&{query}" for tz in ZONES for query in QUERIES]
    now = {path: _body(client, app, path) for path in paths}
    monkeypatch.setattr(analytics_service, "patterns", former_patterns)
    before = {path: _body(client, app, path) for path in paths}
    assert now == before
    # Not vacuous: plays, several active days and artist pairs are in the answers compared.
    everything = client.get(f"/api/v1/history/patterns?tz={ZONES[1]}").get_json()
    assert everything["total_plays"] == 2_500
    assert everything["active_days"] > 100 and everything["artist_pairs"]
    long_gaps = client.get(f"/api/v1/history/patterns?tz=UTC&{QUERIES[4]}").get_json()
    assert len(long_gaps["artist_pairs"]) == 25 and long_gaps["artist_pairs"][0]["sessions"] > 1
    assert client.get(f"/api/v1/history/patterns?tz=UTC&{QUERIES[-1]}").get_json()["total_plays"] == 0
