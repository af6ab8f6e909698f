"""Logs: one JSON object per line, request ids, access and audit lines, unhandled errors, no secrets."""
from __future__ import annotations

import json
import logging
import re

import pytest

from tests.conftest import TEST_TOKEN


def json_lines(text: str) -> list[dict]:
    """Every line must be a JSON object; return them parsed."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def logged_app(make_app):
    """Build (inside the test, so its log handler writes to capsys's stream) an app with a failing route."""

    def build():
        app = make_app(log_level="INFO", lastfm_api_key="lfm-secret-key-987654")

        @app.get("/boom")
        def boom():
            raise RuntimeError("kaboom: internal detail /srv/aime/secret.py")

        return app

    return build


def test_access_line_has_the_fields_and_the_incoming_request_id(capsys, logged_app):
    logged_app = logged_app()
    capsys.readouterr()  # forget the migration's own output
    response = logged_app.test_client().get("/nowhere", headers={"X-Request-ID": "req-abc.123"})
    assert response.headers["X-Request-ID"] == "req-abc.123"
    access = [line for line in json_lines(capsys.readouterr().err) if line["logger"] == "aime.access"]
    assert len(access) == 1
    line = access[0]
    assert {k: line[k] for k in ("level", "message", "request_id", "method", "path", "status")} == {
        "level": "INFO", "message": "GET /nowhere 404", "request_id": "req-abc.123", "method": "GET",
        "path": "/nowhere", "status": 404}
    assert isinstance(line["duration_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", line["timestamp"])


@pytest.mark.parametrize("given", [None, "has spaces", "x" * 200])
def test_a_missing_or_unusable_request_id_is_replaced(logged_app, given):
    logged_app = logged_app()
    headers = {"X-Request-ID": given} if given else {}
    rid = logged_app.test_client().get("/live", headers=headers).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)


def test_unhandled_error_logged_once_with_stack_counted_and_answered_without_detail(capsys, logged_app):
    logged_app = logged_app()
    capsys.readouterr()
    client = logged_app.test_client()
    response = client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    body = response.get_data(as_text=True)
    assert "kaboom" not in body and "secret.py" not in body and "Traceback" not in body
    assert response.json["request_id"] == "boom-1"
    errors = [line for line in json_lines(capsys.readouterr().err) if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "boom-1"
    assert "Traceback" in errors[0]["exc_info"] and "RuntimeError: kaboom" in errors[0]["exc_info"]
    assert client.get("/health").json["errors"] == 1


def test_audit_line_for_each_write_names_token_id_action_and_resource(capsys, logged_app):
    logged_app = logged_app()
    capsys.readouterr()
    client = logged_app.test_client()
    created = client.post("/api/v1/collection/albums", json={"title": "Kind of Blue", "artists": ["Miles Davis"]},
                          headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert created.status_code == 201
    album_id = created.json["id"]
    deleted = client.delete(f"/api/v1/collection/albums/{album_id}", headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert deleted.status_code == 204
    out = capsys.readouterr().err
    audits = [line for line in json_lines(out) if line.get("audit") and line["logger"] == "aime.audit"]
    assert [(a["action"], a["resource_id"], a["status"]) for a in audits] == [
        ("POST", album_id, 201), ("DELETE", album_id, 204)]
    assert all(re.fullmatch(r"tok_[0-9a-f]{10}", a["token_id"]) for a in audits)
    assert TEST_TOKEN not in out


def test_no_secret_reaches_a_log_line(make_app, capsys):
    app = make_app(log_level="INFO", discogs_token="dg-secret-token-4242", ai_api_key="sk-live-abcdef123456")
    capsys.readouterr()

    log = logging.getLogger("aime.test")
    with app.app_context():
        log.warning("calling https://api.example.org/?token=dg-secret-token-4242 with key sk-live-abcdef123456")
        log.warning("connecting to postgresql://aime:hunter2pass@db.internal/aime")
        log.warning("header Authorization: Bearer abcdefghijklmnopqrstuvwxyz")
    out = capsys.readouterr().err
    for secret in ("dg-secret-token-4242", "sk-live-abcdef123456", "hunter2pass", "abcdefghijklmnopqrstuvwxyz"):
        assert secret not in out
    lines = json_lines(out)
    assert lines[1]["message"] == "connecting to postgresql://aime:***@db.internal/aime"
