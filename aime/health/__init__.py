"""Health: checker registry, /live /ready /health /metrics, startup validation, background monitor."""
from __future__ import annotations

from flask import Flask

from .. import background
from .monitor import start_monitor, stop_monitor
from .readiness import init_readiness
from .registry import build_registry, get_registry
from .views import blp


def init_health(app: Flask) -> None:
    """Wire the registry, readiness state, probe endpoints and the monitor (started later, explicitly)."""
    build_registry(app)
    init_readiness(app)
    app.register_blueprint(blp)
    background.register(app, "health-monitor", start_monitor, stop_monitor)


__all__ = ["get_registry", "init_health"]
