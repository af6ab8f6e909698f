"""Scheduled task implementations, and run_task: one recorded TaskRun per execution, one output file per success.

Output files go to <AIME_DATA_DIR>/scheduled-output/{task}-YYYYMMDD-HHMMSS.{ext} (UTC), written to a temporary file
and renamed into place, so a reader never sees half a file; only the newest `max_files_per_type` are kept per task.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..config import Config, config_of, current_config
from ..database import run_write
from ..errors import Conflict, NotConfigured, NotFound
from ..extensions import db
from ..files import write_atomic
from ..models import ScheduledTask, Setting, TaskRun
from ..services import ai_writing, discogs_sync, enrichment, exports, history_export, magazine
from ..services.paging import Page, paginate
from . import enrichment_jobs, lease

log = logging.getLogger(__name__)
OUTPUT_DIR = "scheduled-output"
MAX_FILES_KEY = "scheduler.max_files_per_type"
DEFAULT_MAX_FILES = 5
# A run still "running" after this long was abandoned (its process died); it no longer blocks new runs.
STALE_RUN_SECONDS = 6 * 3600
ERROR_MAX_CHARS = 2000


class Skipped(Exception):
    """The task cannot run here (e.g. its integration is not configured); the run is recorded as skipped."""


@dataclass(frozen=True)
class Output:
    """What a task produced: text for its output file, with the file's extension."""

    text: str
    ext: str
    path: Path | None = None  # a finished file (in the output folder) to publish instead of `text`


def _json_text(document) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def task_export_markdown(config: Config) -> Output:
    """The collection as Markdown."""
    return Output(exports.export_markdown(), "md")


def task_export_json(config: Config) -> Output:
    """The collection as JSON."""
    return Output(_json_text(exports.export_json()), "json")


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def task_haiku(config: Config) -> Output:
    """A haiku for each of five random albums, as Markdown."""
    items = ai_writing.album_haikus(config, 5)
    lines = [f"# Haikus · {time.strftime('%Y-%m-%d', time.gmtime())}", ""]
    if not items:
        lines += ["_The collection is empty: no album to write about._", ""]
    for item in items:
        heading = f"{item['title']} — {', '.join(item['artists'])}"
        lines += [f"## {_md_escape(heading)}", ""]
        # Two trailing spaces make a Markdown line break: a haiku keeps its three lines.
        lines += [f"{_md_escape(line)}  " for line in item["haiku"].split("\n") if line.strip()]
        lines.append("")
    return Output("\n".join(lines).rstrip() + "\n", "md")


def task_ai_enrichment(config: Config) -> Output:
    """Descriptions for owned albums that have none yet; the file is the run's summary."""
    return Output(_json_text(ai_writing.enrich_all(config, limit=50)), "json")


def task_export_history(config: Config) -> Output:
    """The whole listening history as a ListenBrainz export zip (streamed to disk, bounded memory)."""
    folder = output_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".export_history-", suffix=".zip.tmp", dir=folder)
    os.close(fd)
    try:
        history_export.write_file(config, Path(temp), "listenbrainz")
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Output("", "zip", Path(temp))


def task_discogs_sync(config: Config) -> Output:
    """Sync the Discogs collection; its summary is the file (skipped while Discogs is not configured)."""
    return Output(_json_text(discogs_sync.sync(config)), "json")


def task_magazine(config: Config) -> Output:
    """A new magazine edition, stored (written by the AI when configured, else from the data); its Markdown."""
    edition = magazine.generate_edition(config, magazine.running_task_run())
    return Output(magazine.to_markdown(edition), "md")


def task_enrichment(config: Config) -> Output:
    """Covers, years, links and MusicBrainz ids for collection albums that need them; the file is the run's progress."""
    if not enrichment.configured_sources(config):
        raise Skipped("No enrichment source is configured (see docs/enrichment.md).")
    return Output(_json_text(enrichment_jobs.run_now(config)), "json")


@dataclass(frozen=True)
class Task:
    """One scheduled task: what it runs, what the pages call it, and its default schedule."""

    name: str
    run: Callable[[Config], Output]
    label: str
    cron: str  # default crontab, read in AIME_TIMEZONE when the task's row is first created


# The one list of scheduled tasks: the scheduler, the API's choices and the services page all read it.
# Default schedules: exports nightly, AI work early morning, a haiku each Monday, a magazine each month.
TASKS: dict[str, Task] = {task.name: task for task in (
    Task("export_markdown", task_export_markdown, "Collection as Markdown", "0 3 * * *"),
    Task("export_json", task_export_json, "Collection as JSON", "15 3 * * *"),
    Task("haiku", task_haiku, "Haikus for five random albums", "0 8 * * 1"),
    Task("discogs_sync", task_discogs_sync, "Discogs collection sync", "30 4 * * *"),
    Task("ai_enrichment", task_ai_enrichment, "AI album descriptions", "0 5 * * *"),
    Task("magazine", task_magazine, "Magazine edition", "0 7 1 * *"),
    Task("export_history", task_export_history, "Listening history export (ListenBrainz zip)", "45 3 * * *"),
    Task("metadata_enrichment", task_enrichment, "Covers and metadata enrichment", "45 4 * * *"),
)}


def ensure_default_tasks() -> None:
    """Create the missing tasks' rows with their default schedule, inside the caller's transaction.

    Safe against a concurrent creator: each insert runs in a savepoint and losing the race is fine.
    """
    zone_name = current_config().timezone
    present = set(db.session.scalars(select(ScheduledTask.name)))
    for name, task in TASKS.items():
        if name in present:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(ScheduledTask(name=name, cron=task.cron, timezone=zone_name, enabled=True))
        except IntegrityError:  # another process created it first
            pass


def max_files_per_type() -> int:
    """How many output files to keep per task (Setting, default 5)."""
    row = db.session.get(Setting, MAX_FILES_KEY)
    return int(row.value) if row is not None and isinstance(row.value, int) else DEFAULT_MAX_FILES


# --- runs ----------------------------------------------------------------------------------------------

def start_run(name: str, trigger: str) -> int:
    """Record a new running TaskRun for `name`; 404 if unknown, 409 if one is already running (any process)."""
    if name not in TASKS:
        raise NotFound(f"No scheduled task called {name!r}; tasks: {', '.join(TASKS)}.")
    return run_write(_start_run, name, trigger)


def _start_run(name: str, trigger: str) -> int:
    # Lock the task's row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers) so two workers
    # cannot both see "nothing running" and both start.
    ensure_default_tasks()
    db.session.execute(select(ScheduledTask).where(ScheduledTask.name == name).with_for_update()).first()
    now = int(time.time())
    # A run's lease is its start: it blocks new runs while fresh, and is swept as abandoned once stale.
    db.session.execute(update(TaskRun).where(TaskRun.task == name, TaskRun.status == "running",
                                             lease.stale(TaskRun.started_at + STALE_RUN_SECONDS, now))
                       .values(status="failed", finished_at=now, error="Abandoned: its process stopped mid-run.")
                       .execution_options(synchronize_session=False))
    running = db.session.scalar(select(TaskRun.id).where(TaskRun.task == name, TaskRun.status == "running"))
    if running is not None:
        raise Conflict(f"Task {name!r} is already running (run {running}).")
    run = TaskRun(task=name, trigger=trigger, status="running", started_at=now)
    db.session.add(run)
    db.session.flush()
    return run.id


def execute_run(app: Flask, run_id: int) -> dict:
    """Execute a started run in this thread and record how it ended (never raises for a task failure)."""
    with app.app_context():
        config: Config = config_of(app)
        run = db.session.get(TaskRun, run_id)
        name = run.task
        status, output_file, error = "success", None, None
        try:
            output = TASKS[name].run(config)
            db.session.rollback()  # end the read transaction before writing files and rows
            output_file = write_output(config, name, output, max_files_per_type())
        except (Skipped, NotConfigured) as reason:
            status, error = "skipped", str(reason)
        except Exception as failure:  # noqa: BLE001 - a task failure is recorded on its run, not raised
            log.exception("scheduled task %s (run %s) failed", name, run_id)
            status, error = "failed", (getattr(failure, "detail", None) or f"{type(failure).__name__}: {failure}")
        finish_run(run_id, status, output_file, error)
        log.info("task %s run %s finished: %s", name, run_id, status)
        result = run_dict(db.session.get(TaskRun, run_id))
        db.session.remove()
        return result


def finish_run(run_id: int, status: str, output_file: str | None, error: str | None) -> None:
    """Record a run's end and the task's last_run."""

    def _finish():
        run = db.session.get(TaskRun, run_id)
        run.status, run.finished_at, run.output_file = status, int(time.time()), output_file
        run.error = error[:ERROR_MAX_CHARS] if error else None
        task = db.session.get(ScheduledTask, run.task)
        if task is not None:
            task.last_run = run.started_at

    run_write(_finish)


def run_task(app: Flask, name: str, trigger: str = "schedule") -> dict:
    """Run a task now in this thread, recording a TaskRun; returns the finished run."""
    with app.app_context():
        run_id = start_run(name, trigger)
    return execute_run(app, run_id)


def run_dict(run: TaskRun) -> dict:
    """A TaskRun as plain data."""
    return {"id": run.id, "task": run.task, "trigger": run.trigger, "status": run.status,
            "started_at": run.started_at, "finished_at": run.finished_at,
            "output_file": run.output_file, "error": run.error}


def get_run(run_id: int) -> dict:
    """One run, or 404."""
    run = db.session.get(TaskRun, run_id)
    if run is None:
        raise NotFound(f"Task run {run_id} does not exist.")
    return run_dict(run)


def list_runs(task: str | None = None, status: str | None = None, page: int = 1, page_size: int = 30) -> Page:
    """Runs, newest first, optionally of one task and/or status."""
    where = [c for c in (TaskRun.task == task if task else None, TaskRun.status == status if status else None)
             if c is not None]
    return paginate(select(TaskRun).where(*where).order_by(TaskRun.id.desc()), page, page_size, run_dict)


# --- output files ----------------------------------------------------------------------------------------

def output_dir(config: Config) -> Path:
    """Where scheduled tasks write their files."""
    return config.data_dir / OUTPUT_DIR


def _pattern(name: str, ext: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(name)}-(\d{{8}}-\d{{6}})(?:-(\d+))?\.{re.escape(ext)}$")


def write_output(config: Config, name: str, output: Output, keep: int) -> str:
    """Write a task's file atomically (temp file + os.replace), prune to the newest `keep`; returns its name."""
    folder = output_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = folder / f"{name}-{stamp}.{output.ext}"
    counter = 1
    while target.exists():  # two runs in the same second: keep both (runs of one task never overlap)
        target = folder / f"{name}-{stamp}-{counter}.{output.ext}"
        counter += 1
    if output.path is not None:  # already written (and synced) in this folder by the task
        os.replace(output.path, target)
        prune(folder, name, output.ext, keep)
        return target.name
    write_atomic(target, output.text.encode("utf-8"), prefix=f".{name}-")
    prune(folder, name, output.ext, keep)
    return target.name


def prune(folder: Path, name: str, ext: str, keep: int) -> list[str]:
    """Delete all but the newest `keep` output files of a task; returns the deleted names."""
    pattern = _pattern(name, ext)
    found = []
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match:
            found.append(((match.group(1), int(match.group(2) or 0)), path))
    found.sort(reverse=True)
    removed = []
    for _key, path in found[keep:]:
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed
