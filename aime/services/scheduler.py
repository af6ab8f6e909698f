"""The scheduler service: APScheduler jobs built from the scheduled_tasks rows, run by exactly one process.

Schedules are cron expressions with an IANA time zone, stored in the database (so they survive restarts) and
changed through the config API. Each change bumps a version in `settings`; the process holding the scheduler's
lease compares it on every tick and rebuilds its jobs. Default tasks are created when missing; their times are
read in AIME_TIMEZONE (UTC unless set).
"""
from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import background
from ..config import current_config
from ..database import run_write
from ..errors import Conflict, InvalidInput
from ..extensions import db
from ..models import ScheduledTask, Setting
from ..timeutil import iso
from . import runtime, tasks

log = logging.getLogger(__name__)
NAME = "scheduler"
VERSION_KEY = "scheduler.config_version"
EXECUTOR_KEY = "aime.task_executor"
# Default schedules (cron, read in AIME_TIMEZONE): exports nightly, AI work early morning, a haiku each Monday.
DEFAULT_CRONS = {
    "export_markdown": "0 3 * * *",
    "export_json": "15 3 * * *",
    "discogs_sync": "30 4 * * *",
    "ai_enrichment": "0 5 * * *",
    "metadata_enrichment": "45 4 * * *",
    "haiku": "0 8 * * 1",
    "magazine": "0 7 1 * *",
    "export_history": "45 3 * * *",
}


# --- configuration ------------------------------------------------------------------------------------

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_PART = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")


def crontab_weekdays(field: str) -> str:
    """A crontab weekday field (0 or 7 = Sunday) in day names, because APScheduler 3 counts 0 as Monday."""
    if field == "*" or not any(ch.isdigit() for ch in field):
        return field
    names: list[str] = []
    for part in field.split(","):
        match = _DOW_PART.match(part)
        if match is None:
            if any(ch.isdigit() for ch in part):
                raise ValueError(f"weekday {part!r} mixes numbers and names")
            names.append(part)
            continue
        start, end, step = match.groups()
        first = 0 if start == "*" else int(start)
        last = 7 if start == "*" or (end is None and step) else int(end if end is not None else start)
        if not 0 <= first <= 7 or not 0 <= last <= 7 or first > last or (step is not None and int(step) < 1):
            raise ValueError(f"weekday {part!r} is outside 0-7")
        for day in range(first, last + 1, int(step or 1)):
            if start == "*" and day == 7:
                continue  # */n walks 0..6; 7 is Sunday again
            if DAY_NAMES[day % 7] not in names:
                names.append(DAY_NAMES[day % 7])
    return ",".join(names)


def cron_trigger(cron: str, tz_name: str) -> CronTrigger:
    """An APScheduler trigger for a standard 5-field crontab in an IANA zone (ValueError if either is invalid)."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_weekdays(weekday),
                       timezone=ZoneInfo(tz_name))


def cron_error(cron: str) -> str | None:
    """Why a crontab expression is invalid, or None."""
    try:
        cron_trigger(cron, "UTC")
    except (ValueError, TypeError) as error:
        return f"{cron!r} is not a valid cron expression (minute hour day month weekday): {error}"
    return None


def zone_error(name: str) -> str | None:
    """Why a time zone name is invalid, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (e.g. Europe/Zurich)"
    return None


def next_run(task: ScheduledTask, now: datetime | None = None) -> int | None:
    """Next fire time (epoch seconds) of an enabled task, computed in the task's own zone."""
    if not task.enabled:
        return None
    try:
        trigger_ = cron_trigger(task.cron, task.timezone)
    except (ValueError, ZoneInfoNotFoundError):
        return None
    fire = trigger_.get_next_fire_time(None, now or datetime.now(timezone.utc))
    return int(fire.timestamp()) if fire else None


def ensure_default_tasks() -> None:
    """Create the missing default tasks inside the caller's transaction (safe against a concurrent creator)."""
    zone_name = current_config().timezone
    present = set(db.session.scalars(select(ScheduledTask.name)))
    for name, cron in DEFAULT_CRONS.items():
        if name in present:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(ScheduledTask(name=name, cron=cron, timezone=zone_name, enabled=True))
        except IntegrityError:  # another process created it first
            pass


def _task_rows() -> list[ScheduledTask]:
    rows = {row.name: row for row in db.session.scalars(select(ScheduledTask))}
    if any(name not in rows for name in DEFAULT_CRONS):
        run_write(ensure_default_tasks)
        rows = {row.name: row for row in db.session.scalars(select(ScheduledTask))}
    return [rows[name] for name in tasks.TASKS if name in rows]


def get_config() -> dict:
    """max_files_per_type and every task with its schedule, next and last run."""
    rows = _task_rows()
    return {"max_files_per_type": tasks.max_files_per_type(),
            "tasks": [{"name": r.name, "cron": r.cron, "timezone": r.timezone, "enabled": r.enabled,
                       "next_run": next_run(r), "last_run": r.last_run} for r in rows]}


def update_config(data: dict) -> dict:
    """Apply a partial change (max_files_per_type and/or some tasks); 422 naming each bad field; saved at once."""
    errors: dict = {}
    for index, item in enumerate(data.get("tasks") or []):
        problems = {}
        if item.get("cron") is not None and (message := cron_error(item["cron"])):
            problems["cron"] = [message]
        if item.get("timezone") is not None and (message := zone_error(item["timezone"])):
            problems["timezone"] = [message]
        if problems:
            errors[str(index)] = problems
    if errors:
        raise InvalidInput("The schedule has invalid fields; nothing was changed.", errors={"tasks": errors})
    run_write(_apply_config, data)
    return get_config()


def _apply_config(data: dict) -> None:
    ensure_default_tasks()
    if data.get("max_files_per_type") is not None:
        _set_setting(tasks.MAX_FILES_KEY, int(data["max_files_per_type"]))
    for item in data.get("tasks") or []:
        row = db.session.get(ScheduledTask, item["name"])
        for column in ("cron", "timezone", "enabled"):
            if item.get(column) is not None:
                setattr(row, column, item[column].strip() if isinstance(item[column], str) else item[column])
    current = db.session.get(Setting, VERSION_KEY)
    _set_setting(VERSION_KEY, (current.value if current is not None and isinstance(current.value, int) else 0) + 1)


def _set_setting(key: str, value) -> None:
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value


def config_version() -> int:
    """Counter bumped by every config change (the scheduler reloads when it moves)."""
    row = db.session.get(Setting, VERSION_KEY)
    return row.value if row is not None and isinstance(row.value, int) else 0


# --- triggering ------------------------------------------------------------------------------------------

def trigger(app: Flask, name: str) -> dict:
    """Start a run now (whether or not the scheduler runs): recorded at once, executed in a worker thread."""
    run_id = tasks.start_run(name, "manual")
    future = _executor(app).submit(tasks.execute_run, app, run_id)
    future.add_done_callback(_log_crash)
    return {"run_id": run_id, "task": name, "status": "running"}


def _log_crash(future) -> None:
    # execute_run records task failures itself; this catches the rest (e.g. the database gone while finishing).
    if future.exception() is not None:
        log.error("a triggered task run could not be recorded", exc_info=future.exception())


def _executor(app: Flask) -> ThreadPoolExecutor:
    # Created on first trigger, never in create_app; shut down by background.stop (worker exit).
    holder = app.extensions[EXECUTOR_KEY]
    with holder["lock"]:
        if holder["pool"] is None:
            holder["pool"] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="aime-task")
        return holder["pool"]


def stop_task_executor(app: Flask) -> None:
    """Wait for triggered runs of this process to finish and stop their threads."""
    holder = app.extensions.get(EXECUTOR_KEY) or {}
    pool = holder.get("pool")
    if pool is not None:
        pool.shutdown(wait=True)
        holder["pool"] = None


# --- the service ----------------------------------------------------------------------------------------

class SchedulerService(runtime.BackgroundService):
    """Holds a BackgroundScheduler while this process holds the scheduler lease; reloads on config changes."""

    name = NAME
    interval = 5.0

    def __init__(self):
        self.scheduler: BackgroundScheduler | None = None
        self.version: int | None = None
        self.lock = threading.Lock()

    def on_acquire(self, app: Flask) -> None:
        """Start APScheduler with the stored schedules."""
        with self.lock:
            self.scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={
                "coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
            self.scheduler.start()
        self._load(app)

    def tick(self, app: Flask) -> None:
        """Reload the jobs when the stored configuration changed."""
        if self.scheduler is not None and config_version() != self.version:
            self._load(app)

    def on_release(self, app: Flask) -> None:
        """Stop APScheduler (a job already running finishes in its thread)."""
        with self.lock:
            if self.scheduler is not None:
                self.scheduler.shutdown(wait=False)
            self.scheduler, self.version = None, None

    def _load(self, app: Flask) -> None:
        version = config_version()
        rows = _task_rows()
        with self.lock:
            if self.scheduler is None:
                return
            self.scheduler.remove_all_jobs()
            for row in rows:
                if not row.enabled:
                    continue
                try:
                    trigger_ = cron_trigger(row.cron, row.timezone)
                except (ValueError, ZoneInfoNotFoundError):  # edited behind the API's back: skip, keep the rest
                    log.error("task %s has an invalid schedule %r (%s); not scheduled", row.name, row.cron,
                              row.timezone)
                    continue
                self.scheduler.add_job(_scheduled_run, trigger_, args=(app, row.name), id=row.name, name=row.name,
                                       replace_existing=True)
            jobs = {job.id: iso(job.next_run_time.timestamp()) if job.next_run_time else None
                    for job in self.scheduler.get_jobs()}
        log.info("scheduler loaded %d job(s), config version %s", len(jobs), version)
        # Shown by GET /services/scheduler/status (state), whichever worker answers.
        runtime.update_state(NAME, config_version=version, next_runs=jobs)
        self.version = version  # last: if anything above failed, the next tick loads again

    def jobs(self) -> dict[str, int | None]:
        """Scheduled jobs of this process: name -> next fire time (epoch seconds)."""
        with self.lock:
            if self.scheduler is None:
                return {}
            return {job.id: int(job.next_run_time.timestamp()) if job.next_run_time else None
                    for job in self.scheduler.get_jobs()}


def _scheduled_run(app: Flask, name: str) -> None:
    try:
        tasks.run_task(app, name, "schedule")
    except Conflict:
        log.info("scheduled run of %s skipped: a run is still in progress", name)


def init_scheduler(app: Flask) -> None:
    """Register the scheduler service and the trigger executor (nothing starts here)."""
    runtime.register_service(app, SchedulerService())
    app.extensions[EXECUTOR_KEY] = {"lock": threading.Lock(), "pool": None}
    background.register(app, "task-executor", lambda _app: None, stop_task_executor)


def service(app: Flask) -> SchedulerService:
    """This app's scheduler service instance."""
    return app.extensions[runtime.KEY].slots[NAME].service

