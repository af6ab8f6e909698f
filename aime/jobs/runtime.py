"""Background services that run exactly once across workers and instances, through a lease in the database.

A service (tracker, discogs, scheduler, ...) is registered on the app with `register_service`. Whether it
should run is the persisted `active` flag of its `service_states` row (so it survives restarts). In each
process a lease keeper thread renews, every `lease_seconds / 3`, the lease of every active service it can
hold: an atomic UPDATE that succeeds only when the lease is free, expired or already ours. Only the holder
runs the service's ticks; if the holder dies, its lease expires and another process takes over.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask

from .. import background
from ..config import config_of
from ..database import run_write
from ..errors import AimeError, NotFound
from ..extensions import db
from ..identity import owner_id
from ..models import ServiceState
from ..timeutil import iso, to_epoch, utcnow
from . import lease

log = logging.getLogger(__name__)
KEY = "aime.services"


class BackgroundService:
    """Base class: override tick(); on_acquire/on_release are called when this process gains/loses the lease."""

    name: str = ""
    interval: float = 60.0  # seconds between ticks while this process holds the lease

    def tick(self, app: Flask) -> None:
        """Do one unit of work (called in an app context, only by the lease holder)."""

    def on_acquire(self, app: Flask) -> None:
        """This process now runs the service."""

    def on_release(self, app: Flask) -> None:
        """This process no longer runs the service (stopped, lease lost, or shutting down)."""


@dataclass
class _Slot:
    service: BackgroundService
    held: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    last_tick: float = 0.0


@dataclass
class Runtime:
    """Per-app registry of services and, once started, the threads that run them."""

    app: Flask
    lease_seconds: float
    slots: dict[str, _Slot] = field(default_factory=dict)
    stop_event: threading.Event = field(default_factory=threading.Event)
    keeper: threading.Thread | None = None

    @property
    def owner(self) -> str:
        """The lease identity of this process (computed in it, not inherited through a fork)."""
        return owner_id(self.app)


def _runtime(app: Flask) -> Runtime:
    runtime = app.extensions.get(KEY)
    if runtime is None:
        lease = config_of(app).service_lease_seconds
        runtime = app.extensions[KEY] = Runtime(app=app, lease_seconds=lease)
        background.register(app, "services", start_runtime, stop_runtime)
    return runtime


def register_service(app: Flask, service: BackgroundService) -> None:
    """Make a background service known to this app (nothing starts until start_runtime)."""
    _runtime(app).slots[service.name] = _Slot(service=service)


def service_names(app: Flask) -> list[str]:
    """Names of the registered services."""
    return list(_runtime(app).slots)


# --- persisted state -------------------------------------------------------------------------------

def _ensure_row(name: str) -> ServiceState:
    lease.ensure(name)
    return db.session.get(ServiceState, name)


def status(app: Flask, name: str) -> dict:
    """Whether a service is active (wanted), running (a live lease), who holds it, and its state."""
    if name not in _runtime(app).slots:
        raise NotFound(f"No background service called {name!r}.")
    row = db.session.get(ServiceState, name)
    running = bool(row and row.active and row.lease_owner and lease.fresh(row.lease_expires_at))
    return {
        "name": name,
        "active": bool(row and row.active),
        "running": running,
        "holder": row.lease_owner if running else None,
        "lease_expires_at": iso(row.lease_expires_at) if running else None,
        "state": dict(row.state or {}) if row else {},
        "updated_at": iso(row.updated_at) if row else None,
    }


def set_active(app: Flask, name: str, active: bool) -> dict:
    """Persist that a service should (not) run; the lease keepers act on it within lease_seconds/3."""
    runtime = _runtime(app)
    if name not in runtime.slots:
        raise NotFound(f"No background service called {name!r}.")
    run_write(lambda: setattr(_ensure_row(name), "active", active))
    runtime.slots[name].wake.set()
    return status(app, name)


def update_state(name: str, **changes) -> None:
    """Merge changes into a service's persisted state (its own transaction)."""

    def _apply():
        row = _ensure_row(name)
        # Lock the row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers) and read the
        # latest state, so two concurrent updates of one service both survive.
        db.session.refresh(row, with_for_update=True)
        row.state = {**(row.state or {}), **changes}

    run_write(_apply)


@contextmanager
def failure_recorded(name: str) -> Iterator[None]:
    """Mark a job's state failed (with finished_at) when the block raises, then let the exception go on."""
    try:
        yield
    except AimeError as error:
        update_state(name, status="failed", error=error.detail, finished_at=iso(to_epoch(utcnow())))
        raise
    except Exception:
        # Anything else may carry internals (SQL, paths, secrets): the state is shown to users.
        update_state(name, status="failed", error="Unexpected error; see the server log.",
                     finished_at=iso(to_epoch(utcnow())))
        raise


def read_state(name: str) -> dict:
    """A service's persisted state (empty when never saved)."""
    row = db.session.get(ServiceState, name)
    return dict(row.state or {}) if row else {}


# --- leases ------------------------------------------------------------------------------------------

def try_lease(name: str, owner: str, seconds: float) -> bool:
    """Take or renew the lease of an active service; True if `owner` holds it now."""

    def _take() -> bool:
        lease.ensure(name)
        return lease.acquire(name, owner, seconds, where=(ServiceState.active.is_(True),))

    return run_write(_take)


def release_lease(name: str, owner: str) -> None:
    """Give a lease back so another process can take over at once."""
    run_write(lease.release, name, owner)


def _keep_leases(app: Flask, runtime: Runtime) -> None:
    period = max(runtime.lease_seconds / 3, 0.05)
    while not runtime.stop_event.is_set():
        with app.app_context():
            for name, slot in runtime.slots.items():
                try:
                    holds = try_lease(name, runtime.owner, runtime.lease_seconds)
                except Exception:  # noqa: BLE001 - database away: we cannot prove we hold it, so stop
                    log.warning("lease renewal for %s failed", name, exc_info=True)
                    holds = False
                _set_held(app, runtime, slot, holds)
            db.session.remove()
        runtime.stop_event.wait(period)


def _set_held(app: Flask, runtime: Runtime, slot: _Slot, holds: bool) -> None:
    if holds and not slot.held.is_set():
        log.info("service %s now runs in %s", slot.service.name, runtime.owner)
        slot.held.set()
        slot.wake.set()
    elif not holds and slot.held.is_set():
        log.info("service %s no longer runs in %s", slot.service.name, runtime.owner)
        slot.held.clear()
        slot.wake.set()


def _run_service(app: Flask, runtime: Runtime, slot: _Slot) -> None:
    service, running = slot.service, False
    while not runtime.stop_event.is_set():
        with app.app_context():
            if slot.held.is_set() and not running:
                _call(service.on_acquire, app, service.name)
                running = True
                slot.last_tick = 0.0
            elif not slot.held.is_set() and running:
                _call(service.on_release, app, service.name)
                running = False
            if running and time.monotonic() - slot.last_tick >= service.interval:
                slot.last_tick = time.monotonic()
                _call(service.tick, app, service.name)
            db.session.remove()
        slot.wake.wait(min(service.interval, 1.0) if running else 1.0)
        slot.wake.clear()
    if running:
        with app.app_context():
            _call(service.on_release, app, service.name)
            db.session.remove()


def _call(fn, app: Flask, name: str) -> None:
    try:
        fn(app)
    except Exception:  # noqa: BLE001 - a failing tick must not kill the service thread
        log.exception("background service %s failed", name)


def start_runtime(app: Flask) -> None:
    """Start the lease keeper and one thread per service (idempotent)."""
    runtime = _runtime(app)
    if runtime.keeper is not None:
        return
    runtime.stop_event.clear()
    for slot in runtime.slots.values():
        slot.thread = threading.Thread(target=_run_service, args=(app, runtime, slot),
                                       name=f"aime-service-{slot.service.name}", daemon=True)
        slot.thread.start()
    runtime.keeper = threading.Thread(target=_keep_leases, args=(app, runtime), name="aime-lease-keeper", daemon=True)
    runtime.keeper.start()


def stop_runtime(app: Flask, timeout: float = 10.0) -> None:
    """Stop the threads and hand back the leases this process held."""
    runtime = _runtime(app)
    if runtime.keeper is None:
        return
    runtime.stop_event.set()
    for slot in runtime.slots.values():
        slot.held.clear()
        slot.wake.set()
    runtime.keeper.join(timeout)
    for slot in runtime.slots.values():
        if slot.thread is not None:
            slot.thread.join(timeout)
    with app.app_context():
        for name in runtime.slots:
            try:
                release_lease(name, runtime.owner)
            except Exception:  # noqa: BLE001 - best effort; the lease expires anyway
                log.warning("could not release lease of %s", name, exc_info=True)
        db.session.remove()
    runtime.keeper = None
