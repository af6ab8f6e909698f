"""Under real gunicorn with the shipped config: one access line per request, none for probes at INFO."""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.conftest import TEST_TOKEN
from tests.support.polling import poll
from tests.support.servers import Gunicorn, migrate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _server(tmp_path, **extra) -> Gunicorn:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": TEST_TOKEN, "AIME_LOG_LEVEL": "info", "AIME_WORKERS": "1",
           "AIME_DISK_MIN_FREE_MB": "0", **extra}
    migrate(env)
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    for key in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_STARTUP_VALIDATED", "AIME_STARTED_AT"):
        if key not in extra:
            server.env.pop(key, None)
    if "AIME_GUNICORN_ACCESS_LOG" not in extra:
        server.env.pop("AIME_GUNICORN_ACCESS_LOG", None)
    return server.start(wait_path="/live")


def _lines_with(server: Gunicorn, needle: str) -> list[str]:
    return [line for line in server.log_text().splitlines() if needle in line]


def _get(server: Gunicorn, path: str) -> str:
    """GET path with a fresh request id; returns the id."""
    request_id = uuid.uuid4().hex
    response = requests.get(server.url(path), headers={"X-Request-ID": request_id}, timeout=10)
    assert response.status_code == 200 and response.headers["X-Request-ID"] == request_id
    return request_id


def test_one_request_gives_one_json_access_line_and_a_probe_none_at_info(tmp_path):
    server = _server(tmp_path)
    try:
        probes = [_get(server, path) for path in ("/live", "/ready", "/health")]
        api = _get(server, "/api/v1/collection/albums")
        lines = poll(lambda: _lines_with(server, api), 10, "the access line")
        marker = _get(server, "/api/v1/collection/artists")  # logged after every line of the requests before
        poll(lambda: _lines_with(server, marker), 10, "the marker's access line")
    finally:
        server.stop()
    assert len(lines) == 1, lines
    line = json.loads(lines[0])  # the line itself is JSON, not JSON escaped inside a `message`
    assert (line["logger"], line["level"], line["method"], line["path"], line["status"], line["request_id"]) == (
        "aime.access", "INFO", "GET", "/api/v1/collection/albums", 200, api)
    for request_id in probes:
        # Probes are logged at DEBUG: not at INFO. The one INFO line a probe may carry is the registry's first
        # "health status changed: unknown -> healthy" when that probe, not the background monitor, evaluates first.
        others = [line for line in _lines_with(server, request_id)
                  if json.loads(line)["logger"] != "aime.health.registry"]
        assert others == []
    assert '"logger": "gunicorn.access"' not in server.log_text()


def test_gunicorns_own_access_log_when_asked_is_one_plain_json_line(tmp_path):
    server = _server(tmp_path, AIME_GUNICORN_ACCESS_LOG="-")
    try:
        api = _get(server, "/api/v1/collection/albums")
        lines = poll(lambda: (lambda found: found if len(found) == 2 else None)(_lines_with(server, api)), 10,
                     "both access lines")
    finally:
        server.stop()
    by_logger = {json.loads(line)["logger"]: json.loads(line) for line in lines}
    assert set(by_logger) == {"aime.access", "gunicorn.access"}
    own = by_logger["gunicorn.access"]
    assert (own["path"], own["status"], own["request_id"]) == ("/api/v1/collection/albums", 200, api)
    assert "message" not in own  # written as is, not wrapped in the app's JSON formatter
