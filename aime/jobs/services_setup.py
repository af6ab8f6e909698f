"""Wiring of the Last.fm tracker and the Discogs sync, and start/stop/status behind /api/v1/services."""
from __future__ import annotations

from flask import Flask, current_app

from ..config import Config, config_of
from . import imports, runtime
from .discogs import DiscogsSync
from .tracker import LastfmTracker


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
