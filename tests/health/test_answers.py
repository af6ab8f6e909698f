"""/health's kept answers: built once per (kind of answer, results, counts, second), never one answer late.

A registry of one scripted checker and a frozen clock make every body exact: a changed check result, a counted
request or the next second must show in the very next answer, and nothing else rebuilds it.
"""
from __future__ import annotations

import json
import time

import pytest

from aime.health import report
from aime.health.checkers import failed, passed, warned
from aime.health.registry import KEY
from aime.observability.metrics import get_metrics
from tests.conftest import HANG_ONLY_CHECK_DEADLINE
from tests.health.test_registry import Probe, registry_with

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
HEALTH_JSON = "application/health+json"


@pytest.fixture
def frozen(monkeypatch):
    """time.time() stands still at NOW (the test moves it); returns the clock."""
    clock = {"now": NOW}
    monkeypatch.setattr(time, "time", lambda: clock["now"])
    return clock


@pytest.fixture
def scripted(make_app, frozen):
    """(app, outcome): an app whose only checker is a critical `database` answering outcome["result"], whose
    service started 42 s before NOW, with /boom answering 500."""
    # A check deadline only a hang reaches: the body is what the check answered, however late the loaded test
    # process runs it (the default 2 s deadline answered "timed out", unhealthy, after a longer stall).
    app = make_app(health_success_ttl=10.0, health_failure_ttl=3.0, health_check_timeout=HANG_ONLY_CHECK_DEADLINE)
    outcome = {"result": passed("database answers")}
    app.extensions[KEY] = registry_with(app, Probe("database", lambda: outcome["result"], critical=True))
    get_metrics(app).started_at = NOW - 42

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    return app, outcome


def summary(status="healthy", check="pass", requests=0, errors=0, rate="0.00%", uptime=42, second=0):
    """The anonymous /health body, written out."""
    return {"status": status, "uptime_seconds": uptime, "requests": requests, "errors": errors, "error_rate": rate,
            "database": {"pass": "healthy", "warn": "degraded", "fail": "unhealthy"}[check],
            "last_db_check": "2027-01-15T08:00:00Z", "timestamp": f"2027-01-15T08:00:{second:02d}Z",
            "checks": {"database": {"status": check, "critical": True, "response_time_ms": 0.0,
                                    "observed_at": "2027-01-15T08:00:00Z"}}}


def encoded(body: dict) -> bytes:
    """Flask's compact JSON (sorted keys, no spaces, a final newline)."""
    return (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()


def test_a_changed_check_result_shows_in_the_next_answer(scripted):
    app, outcome = scripted
    client = app.test_client()
    first = client.get("/health")
    assert (first.status_code, first.data) == (200, encoded(summary()))
    assert (first.headers["Cache-Control"], first.headers["Vary"]) == ("max-age=10", "Accept, Authorization")
    assert first.mimetype == "application/json"

    outcome["result"] = failed("database unreachable (OperationalError)")
    app.extensions[KEY].evaluate(force=True)  # the monitor's round: same second, same counts
    down = client.get("/health")
    assert (down.status_code, down.data) == (503, encoded(summary("unhealthy", "fail")))
    assert down.headers["Cache-Control"] == "max-age=3"

    outcome["result"] = warned("database busy, writes waiting")
    app.extensions[KEY].evaluate(force=True)
    busy = client.get("/health")
    assert (busy.status_code, busy.data) == (200, encoded(summary("degraded", "warn")))
    assert busy.headers["Cache-Control"] == "max-age=10"


def test_a_counted_request_shows_in_the_next_answer(scripted):
    app, _outcome = scripted
    client = app.test_client()
    assert client.get("/health").data == encoded(summary())
    assert client.get("/health").data == encoded(summary())  # probes are not requests
    assert client.get("/nowhere").status_code == 404
    assert client.get("/health").data == encoded(summary(requests=1))
    assert client.get("/boom").status_code == 500
    assert client.get("/health").data == encoded(summary(requests=2, errors=1, rate="50.00%"))


def test_the_next_second_shows_in_the_next_answer(scripted, frozen):
    app, _outcome = scripted
    client = app.test_client()
    assert client.get("/health").data == encoded(summary())
    frozen["now"] = NOW + 0.999
    assert client.get("/health").data == encoded(summary())
    frozen["now"] = NOW + 1.0
    assert client.get("/health").data == encoded(summary(uptime=43, second=1))


def test_each_kind_of_answer_is_built_once_while_nothing_changes(scripted, monkeypatch, token_headers):
    app, _outcome = scripted
    client = app.test_client()
    built = []
    for name in ("_summary", "_inadarei"):
        real = getattr(report, name)
        monkeypatch.setattr(report, name, lambda *args, real=real, name=name: built.append(name) or real(*args))
    asked = [{}, {"Accept": HEALTH_JSON}, token_headers, {"Accept": HEALTH_JSON, **token_headers}]
    first = [client.get("/health", headers=headers) for headers in asked]
    again = [client.get("/health", headers=headers) for headers in asked]
    assert built == ["_summary", "_inadarei", "_summary", "_inadarei"]  # one build per kind, none the 2nd time
    assert [r.data for r in again] == [r.data for r in first]
    assert [r.mimetype for r in again] == ["application/json", HEALTH_JSON, "application/json", HEALTH_JSON]
    assert "output" in again[2].json["checks"]["database"] and "output" not in again[0].json["checks"]["database"]
    assert again[3].json["checks"]["database:status"][0]["output"] == "database answers"
    assert again[1].json == {
        "status": "pass", "serviceId": "aime", "description": "AIME is healthy",
        "checks": {"uptime": [{"componentType": "system", "observedValue": 42, "observedUnit": "s", "status": "pass",
                               "time": "2027-01-15T08:00:00Z"}],
                   "database:status": [{"componentId": "database", "componentType": "component", "status": "pass",
                                        "time": "2027-01-15T08:00:00Z"}]}}


def test_private_mode_keeps_the_verdict_only_answer_apart(make_app, frozen, token_headers):
    app = make_app(private=True, health_check_timeout=HANG_ONLY_CHECK_DEADLINE)
    app.extensions[KEY] = registry_with(app, Probe("database", lambda: passed("database answers"), critical=True))
    client = app.test_client()
    assert client.get("/health").data == b'{"status":"healthy"}\n'
    assert client.get("/health", headers={"Accept": HEALTH_JSON}).data == b'{"status":"pass"}\n'
    assert client.get("/health", headers=token_headers).json["checks"]["database"]["output"] == "database answers"
    assert client.get("/health").data == b'{"status":"healthy"}\n'


@pytest.mark.parametrize("accept, mimetype", [
    (None, "application/json"),
    ("*/*", "application/json"),
    ("application/json", "application/json"),
    (HEALTH_JSON, HEALTH_JSON),
    ("Application/Health+JSON", HEALTH_JSON),
    ("application/health+json;q=0, */*", "application/json"),
    ("application/json;q=0.5, application/health+json", HEALTH_JSON),
    ("application/*;q=0.5, application/json;q=0.1", HEALTH_JSON),  # werkzeug's best_match: the wildcard wins
    ("text/html", "application/json"),
])
def test_the_format_follows_accept_as_werkzeug_matches_it_every_time(scripted, accept, mimetype):
    app, _outcome = scripted
    client = app.test_client()
    headers = {"Accept": accept} if accept is not None else {}
    with app.test_request_context(headers=headers):
        from flask import request

        assert (request.accept_mimetypes.best_match(["application/json", HEALTH_JSON]) == HEALTH_JSON) is (
            mimetype == HEALTH_JSON)
    assert [client.get("/health", headers=headers).mimetype for _ in range(2)] == [mimetype, mimetype]
