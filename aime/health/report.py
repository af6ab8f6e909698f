"""The bodies of /health (AIME's shape and draft-inadarei-api-health-check) built from the registry."""
from __future__ import annotations

import socket
import time
from datetime import datetime, timezone
from typing import Any

from flask import Flask

from ..config import config_of
from ..observability.metrics import get_metrics, totals
from .registry import Entry, get_registry

DB_STATE = {"pass": "healthy", "warn": "degraded", "fail": "unhealthy"}
INADAREI_STATUS = {"healthy": "pass", "degraded": "warn", "unhealthy": "fail"}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_status(status: str) -> int:
    """Healthy and degraded still serve (200); unhealthy is 503."""
    return 503 if status == "unhealthy" else 200


def max_age(app: Flask, status: str) -> int:
    """Seconds a response may be cached: the TTL the results themselves are cached for."""
    config = config_of(app)
    return int(config.health_failure_ttl if status == "unhealthy" else config.health_success_ttl)


def _check_body(entry: Entry, details: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"status": entry.result.status, "critical": entry.critical,
                            "response_time_ms": entry.response_time_ms, "observed_at": _iso(entry.observed_at)}
    if details:
        body.update(output=entry.result.output, observed_value=entry.result.observed_value,
                    observed_unit=entry.result.observed_unit, details=entry.result.details)
    return body


def health_summary(app: Flask, details: bool) -> tuple[str, dict[str, Any]]:
    """(status, body) of GET /health."""
    status, entries = get_registry(app).evaluate()
    requests, errors = totals(app)
    database = entries.get("database")
    body: dict[str, Any] = {
        "status": status,
        "uptime_seconds": int(get_metrics(app).uptime()),
        "requests": requests,
        "errors": errors,
        "error_rate": f"{(100.0 * errors / requests) if requests else 0.0:.2f}%",
        "database": DB_STATE[database.result.status] if database else "unknown",
        "last_db_check": _iso(database.observed_at) if database else None,
        "timestamp": _iso(time.time()),
        "checks": {name: _check_body(entry, details) for name, entry in entries.items()},
    }
    if details:
        body["version"] = app.config["AIME_VERSION"]
    return status, body


def health_inadarei(app: Flask, details: bool) -> tuple[str, dict[str, Any]]:
    """(status, body) in the draft-inadarei-api-health-check format (application/health+json)."""
    status, entries = get_registry(app).evaluate()
    version = app.config["AIME_VERSION"]
    now = _iso(time.time())
    checks: dict[str, list[dict[str, Any]]] = {
        "uptime": [{"componentType": "system", "observedValue": int(get_metrics(app).uptime()),
                    "observedUnit": "s", "status": "pass", "time": now}],
    }
    for name, entry in entries.items():
        item: dict[str, Any] = {"componentId": name, "componentType": entry.component_type,
                                "status": entry.result.status, "time": _iso(entry.observed_at)}
        if entry.result.observed_value is not None:
            item.update(observedValue=entry.result.observed_value, observedUnit=entry.result.observed_unit)
        if details:
            item["output"] = entry.result.output
        checks[f"{name}:{entry.measurement}"] = [item]
    body: dict[str, Any] = {"status": INADAREI_STATUS[status], "serviceId": "aime",
                            "description": f"AIME is {status}", "checks": checks}
    if details:
        body.update(version=version.split(".")[0], releaseId=version, serviceId=f"aime@{socket.gethostname()}")
    return status, body
