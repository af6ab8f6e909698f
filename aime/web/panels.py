"""Small read-only summaries the pages share: background services, the last import, health, days of a year."""
from __future__ import annotations

import logging
from collections import Counter
from datetime import date

from flask import Flask, url_for

from ..config import current_config
from ..health import report
from ..jobs import imports as import_jobs
from ..jobs import services_setup
from ..services import stats as stats_service
from ..services.localtime import day_of
from . import charts

log = logging.getLogger(__name__)


def service_summaries() -> list[dict]:
    """Status of every registered background service (tracker, discogs, scheduler ...)."""
    return services_setup.all_service_statuses()


def last_import(app: Flask) -> dict | None:
    """The newest import job, if any."""
    page = import_jobs.list_jobs(app, page=1, page_size=1)
    return page.items[0] if page.items else None


def health_summary(app: Flask) -> dict:
    """The overall health status (the same evaluation as /health, without details)."""
    try:
        status, _body = report.health_summary(app, False)
    except Exception:  # noqa: BLE001 - the dashboard must render even when health itself fails
        log.warning("health summary failed", exc_info=True)
        status = "unknown"
    return {"status": status}


def day_counts(first: date, last: date, tz: str) -> Counter:
    """Plays per local day between first and last (inclusive), from the 15-minute rollup."""
    p = stats_service.period(current_config(), first, last, tz)
    days: Counter = Counter()
    for day_number, _hour, plays in stats_service.local_plays(p):
        days[day_of(day_number)] += plays
    return days


def year_heatmap(day: date, tz: str):
    """The 365 days up to `day` as a heatmap whose cells link to that day's timeline."""
    first = day.replace(year=day.year - 1) if not (day.month == 2 and day.day == 29) else day.replace(
        year=day.year - 1, day=28)
    counts = day_counts(first, day, tz)
    return charts.heatmap(counts, first, day, label="Plays per day over the last year",
                          href=lambda d: url_for("web.timeline", date=d.isoformat()))
