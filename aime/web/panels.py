"""Small read-only summaries the pages share: background services, the last import, health, days of a year."""
from __future__ import annotations

import importlib
import logging
from collections import Counter
from datetime import date, timedelta

from flask import Flask, url_for

from ..services import services_setup
from ..services import stats as stats_service
from . import charts
from .helpers import config

log = logging.getLogger(__name__)
EPOCH_DAY = date(1970, 1, 1)


def optional(module: str):
    """A service module built by another part of AIME, or None while it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def service_summaries() -> list[dict]:
    """Status of every registered background service (tracker, discogs, scheduler ...)."""
    return services_setup.all_service_statuses()


def last_import(app: Flask) -> dict | None:
    """The newest import job, when the imports service exists."""
    imports = optional("aime.services.imports")
    if imports is None:
        return None
    page = imports.list_jobs(app, page=1, page_size=1)
    return page.items[0] if page.items else None


def health_summary(app: Flask) -> dict:
    """The overall health status (the same evaluation as /health, without details)."""
    from ..health.report import health_summary as summary

    try:
        status, _body = summary(app, False)
    except Exception:  # noqa: BLE001 - the dashboard must render even when health itself fails
        log.warning("health summary failed", exc_info=True)
        status = "unknown"
    return {"status": status}


def day_counts(first: date, last: date, tz: str) -> Counter:
    """Plays per local day between first and last (inclusive), from the 15-minute rollup."""
    p = stats_service.period(config(), first, last, tz)
    days: Counter = Counter()
    for row in stats_service.local_plays(p):
        # Rows are (local day number, hour, plays) or, in older stats modules, (local datetime, plays).
        if len(row) == 3:
            days[EPOCH_DAY + timedelta(days=row[0])] += row[2]
        else:
            days[row[0].date()] += row[1]
    return days


def year_heatmap(day: date, tz: str):
    """The 365 days up to `day` as a heatmap whose cells link to that day's timeline."""
    first = day.replace(year=day.year - 1) if not (day.month == 2 and day.day == 29) else day.replace(
        year=day.year - 1, day=28)
    counts = day_counts(first, day, tz)
    return charts.heatmap(counts, first, day, label="Plays per day over the last year",
                          href=lambda d: url_for("web.timeline", date=d.isoformat()))
