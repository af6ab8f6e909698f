"""Small read-only summaries the pages share: background services, the last import, health, days of a year."""
from __future__ import annotations

import importlib
import logging
from collections import Counter
from datetime import date

from flask import Flask, url_for

from ..services import runtime
from ..services import stats as stats_service
from . import charts
from .helpers import config

log = logging.getLogger(__name__)


def optional(module: str):
    """A service module built by another part of AIME, or None while it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def service_summaries(app: Flask) -> list[dict]:
    """status() of every registered background service (none when no service is registered)."""
    if not app.extensions.get(runtime.KEY):
        return []
    return runtime.all_statuses(app)


def last_import() -> dict | None:
    """The newest import job, when the imports service exists."""
    imports = optional("aime.services.imports")
    if imports is None or not hasattr(imports, "list_imports"):
        return None
    page = imports.list_imports(page=1, page_size=1)
    items = page.items if hasattr(page, "items") else page.get("items", [])
    return items[0] if items else None


def health_summary(app: Flask) -> dict | None:
    """The overall health (status and each check), when the health registry exists."""
    health = optional("aime.health")
    status = getattr(health, "status", None) if health is not None else None
    if status is None:
        return None
    try:
        return status(app)
    except Exception:  # noqa: BLE001 - the dashboard must render even when health itself fails
        log.warning("health summary failed", exc_info=True)
        return {"status": "unknown", "checks": {}}


def day_counts(first: date, last: date, tz: str) -> Counter:
    """Plays per local day between first and last (inclusive), from the 15-minute rollup."""
    p = stats_service.period(config(), first, last, tz)
    days: Counter = Counter()
    for moment, plays in stats_service.local_plays(p):
        days[moment.date()] += plays
    return days


def year_heatmap(day: date, tz: str):
    """The 365 days up to `day` as a heatmap whose cells link to that day's timeline."""
    first = day.replace(year=day.year - 1) if not (day.month == 2 and day.day == 29) else day.replace(
        year=day.year - 1, day=28)
    counts = day_counts(first, day, tz)
    return charts.heatmap(counts, first, day, label="Plays per day over the last year",
                          href=lambda d: url_for("web.timeline", date=d.isoformat()))
