"""Wiring of the Last.fm tracker and the Discogs sync, and the use cases behind /api/v1/services."""
from __future__ import annotations

import logging
import threading
from typing import Callable

from flask import Flask, current_app
from sqlalchemy import select

from ..config import Config, config_of
from ..database import run_write
from ..errors import AimeError, Conflict
from ..extensions import db
from ..models import ServiceState
from ..timeutil import to_epoch, utcnow
from . import imports, runtime
from .discogs_sync import DiscogsSync
from .tracker import LastfmTracker

log = logging.getLogger(__name__)
JOB_STALE_SECONDS = 300  # a "running" job without a heartbeat for this long died with its process


def init_services(app: Flask) -> None:
    """Register the tracker, the Discogs sync and the import resumer on the app (no I/O; nothing starts here)."""
    config: Config = config_of(app)
    runtime.register_service(app, LastfmTracker(interval=config.lastfm_poll_seconds))
    runtime.register_service(app, DiscogsSync(interval=config.discogs_sync_seconds))
    imports.init_resumer(app)


def _service(app: Flask, name: str) -> runtime.BackgroundService | None:
    slot = app.extensions[runtime.KEY].slots.get(name) if runtime.KEY in app.extensions else None
    return slot.service if slot else None


def _check_config(app: Flask, name: str) -> None:
    service = _service(app, name)
    check = getattr(service, "require_config", None)
    if check is not None:
        check(config_of(app))


def _configured(app: Flask, name: str) -> bool:
    try:
        _check_config(app, name)
    except Exception:  # noqa: BLE001 - NotConfigured: reported as configured=False
        return False
    return True


def service_status(name: str) -> dict:
    """One service's status: active, running, holder, state, and whether it is configured."""
    app = current_app._get_current_object()
    status = {**runtime.status(app, name), "configured": _configured(app, name)}
    extra = getattr(_service(app, name), "extra_state", None)
    if extra is not None:
        status["state"] = {**status["state"], **extra()}
    return status


def all_service_statuses() -> list[dict]:
    """The status of every registered service (tracker, discogs, scheduler...)."""
    return [service_status(name) for name in runtime.service_names(current_app._get_current_object())]


def start_service(name: str) -> dict:
    """Mark a service active (persisted); NotConfigured (503) when its credentials are missing."""
    app = current_app._get_current_object()
    runtime.status(app, name)  # 404 for an unknown name before anything else
    _check_config(app, name)
    runtime.set_active(app, name, True)
    return service_status(name)


def stop_service(name: str) -> dict:
    """Mark a service inactive (persisted); its holder stops within a lease period."""
    app = current_app._get_current_object()
    runtime.set_active(app, name, False)
    return service_status(name)


def claim_job(state_name: str) -> None:
    """Mark a job running, atomically across processes; Conflict (409) while a live run holds it."""
    runtime.update_state(state_name)  # make sure the row exists, so it can be locked

    def _claim() -> None:
        # SQLite: run_write's BEGIN IMMEDIATE serialises this; PostgreSQL: the row lock does.
        row = db.session.scalar(select(ServiceState).where(ServiceState.name == state_name).with_for_update())
        state, now = dict(row.state or {}), to_epoch(utcnow())
        if state.get("status") == "running" and now - int(state.get("heartbeat") or 0) < JOB_STALE_SECONDS:
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
