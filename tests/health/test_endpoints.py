"""/live, /ready, /health and /metrics through the Flask test client (single process, per-app registry)."""
from __future__ import annotations

import re

import pytest
from flask import jsonify
from flask_migrate import stamp

from aime.health.readiness import start_draining

HEALTH_JSON = "application/health+json"


@pytest.fixture
def quiet_app(make_app):
    """An app whose optional integrations are out of the picture, so it can be fully healthy."""
    app = make_app(disk_min_free_mb=0)

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    return app


def test_live_checks_nothing(make_app):
    app = make_app(migrate=False, database_url="postgresql+psycopg://x@127.0.0.1:1/none")
    response = app.test_client().get("/live")
    assert (response.status_code, response.json) == (200, {"alive": True})
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_when_validated_migrated_reachable_and_not_draining(quiet_app):
    client = quiet_app.test_client()
    response = client.get("/ready")
    assert (response.status_code, response.json) == (200, {"ready": True})
    with quiet_app.app_context():  # the prebuilt body is byte for byte what jsonify wrote
        assert (response.data, response.mimetype) == (jsonify({"ready": True}).data, "application/json")
    assert response.headers["Cache-Control"] == "no-store"
    start_draining(quiet_app)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json == {"ready": False, "reasons": ["draining: shutting down"]}


def test_not_ready_while_migrations_are_behind(make_app):
    app = make_app()
    with app.app_context():
        stamp(revision="0001")
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    reasons = response.json["reasons"]
    assert "startup validation failed: migrations" in reasons
    assert any(r.startswith("migrations: schema at 0001, code expects") for r in reasons)


def test_health_counts_requests_and_5xx_but_not_probes(quiet_app):
    client = quiet_app.test_client()
    for path in ("/nowhere", "/nowhere", "/nowhere", "/boom", "/live", "/ready", "/metrics", "/health"):
        client.get(path)
    response = client.get("/health")
    body = response.json
    assert response.status_code == 200
    assert (body["requests"], body["errors"], body["error_rate"]) == (4, 1, "25.00%")
    assert body["database"] == "healthy"
    assert body["status"] == "degraded"  # 1 error in 4 requests: the error_rate check warns
    for field in ("uptime_seconds", "last_db_check", "timestamp", "checks"):
        assert field in body
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])
    database = body["checks"]["database"]
    assert database["status"] == "pass" and database["critical"] is True
    assert set(database) == {"status", "critical", "response_time_ms", "observed_at"}


def test_a_fresh_install_without_integrations_is_healthy(make_app, token_headers):
    body = make_app(disk_min_free_mb=0).test_client().get("/health", headers=token_headers).json
    assert body["status"] == "healthy"
    for name in ("lastfm", "discogs", "spotify", "ai"):
        check = body["checks"][name]
        assert (check["status"], check["critical"], check["output"]) == ("pass", False, "disabled (not configured)")


def test_two_apps_in_one_process_keep_their_own_counters(make_app):
    first, second = make_app(), make_app()
    first.test_client().get("/nowhere")
    assert first.test_client().get("/health").json["requests"] == 1
    assert second.test_client().get("/health").json["requests"] == 0


@pytest.mark.parametrize("mode, with_token, shows", [
    ("token", False, False), ("token", True, True), ("always", False, True), ("never", True, False),
])
def test_details_only_for_the_token_or_when_configured(make_app, token_headers, mode, with_token, shows):
    app = make_app(health_details=mode)
    headers = token_headers if with_token else {}
    body = app.test_client().get("/health", headers=headers).json
    data_dir = body["checks"]["data_dir"]
    assert ("output" in data_dir) is shows
    assert ("version" in body) is shows
    text = app.test_client().get("/health", headers=headers).get_data(as_text=True)
    assert (str(app.extensions["aime.config"].data_dir) in text) is shows
    if shows:
        assert data_dir["output"] == "data directory writable"


def test_health_json_format(make_app, token_headers):
    app = make_app()
    response = app.test_client().get("/health", headers={"Accept": HEALTH_JSON, **token_headers})
    assert response.status_code == 200
    assert response.mimetype == HEALTH_JSON
    body = response.json
    assert body["status"] == "pass"
    assert body["releaseId"] == app.config["AIME_VERSION"] and body["version"] == "0"
    database = body["checks"]["database:responseTime"][0]
    assert database["componentType"] == "datastore" and database["status"] == "pass"
    assert database["observedUnit"] == "ms" and isinstance(database["observedValue"], float)
    assert body["checks"]["lastfm:responseTime"][0] == {
        "componentId": "lastfm", "componentType": "component", "status": "pass",
        "time": body["checks"]["lastfm:responseTime"][0]["time"], "output": "disabled (not configured)"}
    assert body["checks"]["uptime"][0]["observedUnit"] == "s"


def test_health_json_fail_is_503_and_cache_control_follows_the_ttl(make_app):
    app = make_app(migrate=False, health_success_ttl=12.0, health_failure_ttl=4.0)
    client = app.test_client()
    response = client.get("/health", headers={"Accept": HEALTH_JSON})
    assert (response.status_code, response.json["status"]) == (503, "fail")
    assert "releaseId" not in response.json and "output" not in response.json["checks"]["migrations:status"][0]
    assert response.headers["Cache-Control"] == "max-age=4"
    ready_app = make_app(health_success_ttl=12.0, health_failure_ttl=4.0)
    assert ready_app.test_client().get("/health").headers["Cache-Control"] == "max-age=12"


def test_metrics_exposes_requests_latency_checks_and_uptime(quiet_app):
    client = quiet_app.test_client()
    client.get("/nowhere")
    client.get("/boom")
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'aime_http_requests_total{endpoint="<unmatched>",method="GET",status="404"} 1.0' in text
    assert 'aime_http_requests_total{endpoint="/boom",method="GET",status="500"} 1.0' in text
    assert 'aime_http_request_duration_seconds_count{endpoint="/boom"} 1.0' in text
    assert 'aime_health_check_status{check="database",critical="true"} 1.0' in text
    assert 'aime_health_check_status{check="lastfm",critical="false"} 1.0' in text  # disabled: passes
    assert re.search(r"^aime_uptime_seconds \d", text, re.M)


def test_metrics_count_each_method_endpoint_and_status_apart_and_exactly(quiet_app):
    # observe_request keeps each label set's counter and histogram children: repeated and interleaved label sets
    # must still land on their own samples.
    client = quiet_app.test_client()
    for _ in range(3):
        client.get("/nowhere")
        client.post("/nowhere")
        client.get("/boom")
    client.delete("/nowhere")
    text = client.get("/metrics").get_data(as_text=True)
    counted = dict(re.findall(r'^(aime_http_request(?:s_total|_duration_seconds_count)\{[^}]*\}) (\S+)$', text, re.M))
    assert {key: value for key, value in counted.items() if "/metrics" not in key} == {
        'aime_http_requests_total{endpoint="<unmatched>",method="GET",status="404"}': "3.0",
        'aime_http_requests_total{endpoint="<unmatched>",method="POST",status="404"}': "3.0",
        'aime_http_requests_total{endpoint="<unmatched>",method="DELETE",status="404"}': "1.0",
        'aime_http_requests_total{endpoint="/boom",method="GET",status="500"}': "3.0",
        'aime_http_request_duration_seconds_count{endpoint="<unmatched>"}': "7.0",
        'aime_http_request_duration_seconds_count{endpoint="/boom"}': "3.0"}


def test_a_track_playing_now_leaves_health_healthy(make_app, token_headers):
    """The ListenBrainz playing-now row lives in service_states but is not a stalled background service."""
    client = make_app(disk_min_free_mb=0).test_client()
    sent = client.post("/1/submit-listens", headers={"Authorization": token_headers["Authorization"]},
                       json={"listen_type": "playing_now", "payload": [
                           {"track_metadata": {"artist_name": "Portishead", "track_name": "Sour Times"}}]})
    assert sent.status_code == 200
    assert client.get("/1/user/aime/playing-now").json["payload"]["count"] == 1
    body = client.get("/health", headers=token_headers).json
    assert body["status"] == "healthy"
    services = body["checks"]["background_services"]
    assert (services["status"], services["output"]) == ("pass", "0 active service(s) running")
