"""Jobs asked for through the API or a schedule (a Discogs sync, the Last.fm history, enrichment): one run at a time.

A job's state row (service_states, see runtime.update_state) says "running" with a heartbeat its run refreshes;
that is its lease, visible to clients following its progress. Another run is refused while it is fresh.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import select

from ..config import Config, config_of
from ..database import run_write
from ..errors import AimeError, Conflict
from ..extensions import db
from ..models import ServiceState
from ..timeutil import to_epoch, utcnow
from . import lease, runtime

log = logging.getLogger(__name__)
JOB_STALE_SECONDS = 300  # a "running" job without a heartbeat for this long died with its process


def claim_job(state_name: str) -> None:
    """Mark a job running, atomically across processes; Conflict (409) while a live run holds it."""
    runtime.update_state(state_name)  # make sure the row exists, so it can be locked

    def _claim() -> None:
        # SQLite: run_write's BEGIN IMMEDIATE serialises this; PostgreSQL: the row lock does.
        row = db.session.scalar(select(ServiceState).where(ServiceState.name == state_name).with_for_update())
        # The running job's lease is its heartbeat: held while fresh, any process may take over once stale.
        state, now = dict(row.state or {}), to_epoch(utcnow())
        if state.get("status") == "running" and lease.fresh(int(state.get("heartbeat") or 0) + JOB_STALE_SECONDS, now):
            raise Conflict(f"A {state_name} run is already in progress; follow its progress.")
        row.state = {**state, "status": "running", "heartbeat": now, "error": None}

    run_write(_claim)


def run_job(state_name: str, job: Callable[[Config], dict], check: Callable[[Config], None]) -> dict:
    """Start job(config) in a background thread unless one is running; returns its state at start."""
    app = current_app._get_current_object()
    check(config_of(app))
    claim_job(state_name)
    thread = threading.Thread(target=_run_job, args=(app, state_name, job), name=f"aime-job-{state_name}",
                              daemon=True)
    thread.start()
    return runtime.read_state(state_name)


def _run_job(app: Flask, state_name: str, job: Callable[[Config], dict]) -> None:
    with app.app_context():
        try:
            job(config_of(app))
        except AimeError as error:  # expected (service down, refused): one line, already in the state
            log.warning("%s run failed: %s", state_name, error.detail)
        except Exception:  # noqa: BLE001 - recorded in the state as unexpected; the trace goes to the log
            log.exception("%s run failed", state_name)
        finally:
            db.session.remove()
