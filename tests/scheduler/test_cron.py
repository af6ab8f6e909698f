"""Crontab weekdays mean what crontab says (0 and 7 are Sunday), not APScheduler's 0 = Monday."""
from datetime import datetime, UTC

import pytest

from aime.jobs.scheduler import cron_error, cron_trigger, crontab_weekdays


@pytest.mark.parametrize("field, names", [
    ("*", "*"), ("0", "sun"), ("7", "sun"), ("1", "mon"), ("1-5", "mon,tue,wed,thu,fri"), ("5-7", "fri,sat,sun"),
    ("*/2", "sun,tue,thu,sat"), ("1,3,5", "mon,wed,fri"), ("2/3", "tue,fri"), ("mon-fri", "mon-fri")])
def test_weekday_fields(field, names):
    assert crontab_weekdays(field) == names


def test_friday_evening_in_new_york():
    # Wednesday 2026-07-01 12:00 UTC; "30 18 * * 5" in New York (UTC-4 in summer) is Friday 3 July 22:30 UTC.
    trigger = cron_trigger("30 18 * * 5", "America/New_York")
    fire = trigger.get_next_fire_time(None, datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2026, 7, 3, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize("cron", ["61 * * * *", "* * * *", "0 8 * * 8", "0 25 * * *", "nonsense", "0 8 * * 1-9"])
def test_invalid_expressions(cron):
    assert cron_error(cron) is not None
