"""The bodies of /health (AIME's shape and draft-inadarei-api-health-check) built from the registry."""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Any

from flask import Flask
from werkzeug.utils import get_content_type

from ..config import config_of
from ..observability.metrics import get_metrics, totals
from .registry import Entry, get_registry

DB_STATE = {"pass": "healthy", "warn": "degraded", "fail": "unhealthy"}
INADAREI_STATUS = {"healthy": "pass", "degraded": "warn", "unhealthy": "fail"}
BODY_KEY = "aime.health_answers"
HEALTH_JSON = "application/health+json"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    return status, _summary(app, details, status, entries, totals(app), time.time())


def _summary(app: Flask, details: bool, status: str, entries: dict[str, Entry], counts: tuple[int, int],
             now: float, uptime: int | None = None) -> dict[str, Any]:
    requests, errors = counts
    database = entries.get("database")
    body: dict[str, Any] = {
        "status": status,
        "uptime_seconds": int(get_metrics(app).uptime()) if uptime is None else uptime,
        "requests": requests,
        "errors": errors,
        "error_rate": f"{(100.0 * errors / requests) if requests else 0.0:.2f}%",
        "database": DB_STATE[database.result.status] if database else "unknown",
        "last_db_check": _iso(database.observed_at) if database else None,
        "timestamp": _iso(now),
        "checks": {name: _check_body(entry, details) for name, entry in entries.items()},
    }
    if details:
        body["version"] = app.config["AIME_VERSION"]
    return body


def health_inadarei(app: Flask, details: bool) -> tuple[str, dict[str, Any]]:
    """(status, body) in the draft-inadarei-api-health-check format (application/health+json)."""
    status, entries = get_registry(app).evaluate()
    return status, _inadarei(app, details, status, entries, time.time())


def _inadarei(app: Flask, details: bool, status: str, entries: dict[str, Entry], moment: float,
              uptime: int | None = None) -> dict[str, Any]:
    version = app.config["AIME_VERSION"]
    now = _iso(moment)
    checks: dict[str, list[dict[str, Any]]] = {
        "uptime": [{"componentType": "system",
                    "observedValue": int(get_metrics(app).uptime()) if uptime is None else uptime,
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
    return body


@dataclass(frozen=True)
class Answer:
    """One /health answer ready to send: status code, encoded body and the headers that depend on it."""

    status: str
    code: int
    body: bytes
    content_type: str
    cache_control: str


@dataclass(frozen=True)
class _Kept:
    """An answer and everything it was built from; it stands while all of these are the same."""

    status: str
    entries: dict[str, Entry]
    counts: tuple[int, int] | None
    second: int
    uptime: int
    answer: Answer


def health_answer(app: Flask, inadarei: bool, details: bool, hidden: bool) -> Answer:
    """GET /health's answer, built and encoded only when something it shows changed.

    The checks are evaluated and the counters read on every call (both are current to the request); what is
    kept, per kind of answer (format, details, private), is the finished answer for the same status, results
    (the registry's very set while nothing changed, else equal entries), counts, second and uptime second.
    """
    status, entries = get_registry(app).evaluate()
    counts = totals(app) if not (inadarei or hidden) else None
    now = time.time()
    uptime = int(max(0.0, now - get_metrics(app).started_at))
    second = int(now)
    kept_answers = app.extensions.get(BODY_KEY)
    if kept_answers is None:
        kept_answers = app.extensions[BODY_KEY] = {}
    variant = (inadarei, details, hidden)
    kept = kept_answers.get(variant)
    if (kept is not None and kept.second == second and kept.counts == counts and kept.uptime == uptime
            and kept.status == status and (kept.entries is entries
                                           or tuple(kept.entries.values()) == tuple(entries.values()))):
        return kept.answer
    if hidden:
        body: dict[str, Any] = {"status": INADAREI_STATUS[status] if inadarei else status}
    elif inadarei:
        body = _inadarei(app, details, status, entries, now, uptime)
    else:
        body = _summary(app, details, status, entries, counts, now, uptime)
    answer = Answer(status, http_status(status), app.json.response(body).get_data(),
                    get_content_type(HEALTH_JSON if inadarei else "application/json", "utf-8"),
                    f"max-age={max_age(app, status)}")
    kept_answers[variant] = _Kept(status, entries, counts, second, uptime, answer)
    return answer


def health_body(app: Flask, inadarei: bool, details: bool, hidden: bool) -> tuple[str, bytes]:
    """(status, JSON text) of GET /health (health_answer's status and body)."""
    answer = health_answer(app, inadarei, details, hidden)
    return answer.status, answer.body
