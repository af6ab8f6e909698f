"""Import jobs: create (upload or CLI file), run (in a background thread or in the CLI), resume, list.

Resumption: each job is run under a lease (service_states row "import:<id>", renewed by every batch).
Every batch commits the listens AND the job's `processed` count together, so after a crash the job
restarts after its last committed row. A job still "queued"/"running" whose lease has expired (its
process died) is restarted by the server itself within a lease period (`init_resumer`), sooner by the next
upload or list request (`resume_stale_jobs`), or by `flask import --resume ID` / re-running `flask import`
on the same file.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from .. import background
from ..config import Config, config_of, current_config
from ..database import run_write
from ..errors import NotFound, ServiceUnavailable
from ..extensions import db
from ..identity import owner_id
from ..models import ImportJob, ServiceState
from ..services.paging import Page, paginate
from ..services.importers import resolve_format
from ..services.importers.records import FatalFormatError
from ..services.imports import UNFINISHED, job_dict, upload_dir
from . import lease
from .import_runner import LeaseLost, execute

log = logging.getLogger(__name__)
def lease_seconds() -> float:
    """How long a job's lease lasts past its last committed batch (AIME_IMPORT_LEASE_SECONDS)."""
    return current_config().import_lease_seconds


def lease_name(job_id: int) -> str:
    """The service_states row holding a job's lease."""
    return f"import:{job_id}"


def create_upload_job(app: Flask, upload) -> dict:
    """Store an uploaded file (streamed to disk), check its format, queue it and start its thread."""
    config: Config = config_of(app)
    directory = upload_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.upload"  # never a client-chosen path
    upload.save(str(path))
    try:
        with open(path, "rb") as stream:
            fmt = resolve_format(stream, None)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    name = os.path.basename((upload.filename or "upload").replace("\\", "/"))
    # Control characters (NUL above all) are not part of a name a person chose, and PostgreSQL refuses NUL.
    name = "".join(ch for ch in name if ch.isprintable())[:200] or "upload"
    try:
        job_id = run_write(_create_job, name, str(path), fmt.name)
    except BaseException:
        path.unlink(missing_ok=True)  # no job, no file left behind
        raise
    start_thread(app, job_id)
    resume_stale_jobs(app)
    return job_dict(db.session.get(ImportJob, job_id))


def create_file_job(path: Path, requested_format: str | None) -> int:
    """A job for a local file (CLI); an unfinished job for the same file is resumed instead."""
    path = path.resolve()
    with open(path, "rb") as stream:
        fmt = resolve_format(stream, requested_format)
    stale = db.session.scalars(select(ImportJob).where(
        ImportJob.stored_path == str(path), ImportJob.status.in_(UNFINISHED), ImportJob.format == fmt.name)
        .order_by(ImportJob.id.desc())).first()
    if stale is not None and not _lease_alive(stale.id):
        return stale.id
    return run_write(_create_job, path.name, str(path), fmt.name)


def _create_job(filename: str, stored_path: str, fmt: str) -> int:
    job = ImportJob(filename=filename, stored_path=stored_path, format=fmt, status="queued",
                    skipped=[], errors=[])
    db.session.add(job)
    db.session.flush()
    # The creator holds the lease from the start so no other worker "resumes" a job about to start.
    lease.ensure(lease_name(job.id), active=True, state={"job": job.id})
    lease.acquire(lease_name(job.id), owner_id(), lease_seconds())
    return job.id


def run_job(job_id: int, on_batch: Callable[[int, int], None] | None = None, own_process: bool = False) -> dict:
    """Run (or resume) a job to the end in this thread, unless another live process holds it.

    `own_process`: this process exists for the import (the CLI), see import_runner.execute."""
    config: Config = current_config()
    if not run_write(_claim, job_id):
        return job_dict(db.session.get(ImportJob, job_id))
    job = db.session.get(ImportJob, job_id)
    log.info("import %s runs in %s from row %s", job_id, owner_id(), job.processed)
    try:
        with open(job.stored_path, "rb") as stream:
            execute(job_id, stream, window=config.dedup_window_seconds,
                    job_lease=(lease_name(job_id), owner_id(), lease_seconds()),
                    on_batch=on_batch, own_process=own_process)
        run_write(_finish, job_id, "done", None, None)
    except KeyboardInterrupt:
        # Ctrl-C in the CLI: committed batches stay; free the lease so a re-run resumes at once.
        db.session.rollback()
        run_write(_release, job_id)
        raise
    except LeaseLost as error:
        log.warning("import %s: %s; stopping here", job_id, error)
        db.session.rollback()
        return job_dict(db.session.get(ImportJob, job_id))
    except FatalFormatError as error:
        run_write(_finish, job_id, "failed", error.message, {"line": error.line, "error": error.message})
    except OSError as error:
        run_write(_finish, job_id, "failed", f"the file cannot be read: {error.strerror}", None)
    except ServiceUnavailable as error:  # e.g. the database disk is full: say so, committed batches stay
        log.warning("import %s stopped: %s", job_id, error.detail)
        db.session.rollback()
        run_write(_finish, job_id, "failed", error.detail, None)
    except Exception:  # noqa: BLE001 - a job must end in a state, never stay "running" silently
        log.exception("import %s failed", job_id)
        db.session.rollback()
        run_write(_finish, job_id, "failed", "internal error while importing (see the server log)", None)
    return job_dict(db.session.get(ImportJob, job_id))


def _claim(job_id: int) -> bool:
    job = db.session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"Import {job_id} does not exist.")
    if job.status not in UNFINISHED:
        return False
    lease.ensure(lease_name(job_id), active=True, state={"job": job_id})
    if not lease.acquire(lease_name(job_id), owner_id(), lease_seconds()):
        return False  # another live process runs it
    job.status = "running"
    job.started_at = job.started_at or int(time.time())
    return True


def _finish(job_id: int, status: str, message: str | None, error: dict | None) -> None:
    job = db.session.get(ImportJob, job_id)
    job.status, job.finished_at = status, int(time.time())
    if message:
        job.message = message
    if error:
        job.errors = job.errors + [error]
    state = db.session.get(ServiceState, lease_name(job_id))
    if state is not None:
        db.session.delete(state)
    if job.stored_path and Path(job.stored_path).parent == upload_dir(current_config()):
        Path(job.stored_path).unlink(missing_ok=True)  # only our own upload copies, never a user's file


def _release(job_id: int) -> None:
    lease.release(lease_name(job_id), owner_id())


def _lease_alive(job_id: int) -> bool:
    return lease.holder(lease_name(job_id)) is not None


# Jobs running in this process, by (database, job id). The lease cannot tell two threads of one process apart
# (same owner), so two requests resuming the same stale job at once would otherwise both run it.
_running: set[tuple[str, int]] = set()
_running_lock = threading.Lock()


def start_thread(app: Flask, job_id: int) -> threading.Thread | None:
    """Run a job in a daemon thread of this worker, unless it already runs here (None then)."""
    key = (config_of(app).database_url, job_id)
    with _running_lock:
        if key in _running:
            return None
        _running.add(key)

    def main():
        with app.app_context():
            try:
                run_job(job_id)
            finally:
                db.session.remove()
                with _running_lock:
                    _running.discard(key)

    thread = threading.Thread(target=main, name=f"aime-import-{job_id}", daemon=True)
    thread.start()
    return thread


def resume_stale_jobs(app: Flask) -> list[int]:
    """Restart unfinished jobs whose process died (lease expired); returns the ids given a thread here.

    Each thread still has to win the job's lease: of several processes seeing the same stale job, one runs
    it (and logs "import N runs in OWNER"); the others' threads end at once.
    """
    ids = db.session.scalars(select(ImportJob.id).where(ImportJob.status.in_(UNFINISHED))).all()
    stale = [job_id for job_id in ids if not _lease_alive(job_id)
             and Path(db.session.get(ImportJob, job_id).stored_path or "").is_file()]
    return [job_id for job_id in stale if start_thread(app, job_id) is not None]


def init_resumer(app: Flask) -> None:
    """Register a background part that resumes stale jobs by itself, every lease period (nothing starts here)."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def loop() -> None:
        while not stop.wait(config_of(app).import_lease_seconds):
            with app.app_context():
                try:
                    resume_stale_jobs(app)  # the thread that wins a job's lease logs it
                except Exception:  # noqa: BLE001 - the database may be away for a while: try next period
                    log.warning("could not look for interrupted imports", exc_info=True)
                finally:
                    db.session.remove()

    def start(_app: Flask) -> None:
        stop.clear()
        threads.append(threading.Thread(target=loop, name="aime-resume-imports", daemon=True))
        threads[-1].start()

    def halt(_app: Flask) -> None:
        stop.set()
        while threads:
            threads.pop().join(5)

    background.register(app, "import-resumer", start, halt)


def list_jobs(app: Flask, page: int = 1, page_size: int = 30) -> Page:
    """Import jobs, newest first (stale ones are restarted on the way)."""
    resume_stale_jobs(app)
    return paginate(select(ImportJob).order_by(ImportJob.id.desc()), page, page_size, job_dict)

