"""The deployment checklist as one end-to-end run, through the container entrypoint, against real gunicorn.

validate; /health healthy (unconfigured optional integrations are disabled, which passes); /ready ready; the
main endpoints answer; data is created and modified; JSON and Markdown exports download; every log
line is JSON; a full stop and start comes back with the data and the active background services.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.servers import ROOT, free_port

from .conftest import ENTRYPOINT, TOKEN, base_env, poll, status_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def dockerfile_cmd() -> list[str]:
    """The image's CMD, read from the Dockerfile (JSON form)."""
    text = (ROOT / "Dockerfile").read_text()
    return json.loads(re.search(r"^CMD\s+(\[.*\])\s*$", text, re.M).group(1))


class Deployment:
    """The service started the way the container starts it: entrypoint + the Dockerfile's CMD."""

    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = base_env(tmp_path, self.port)
        # In the image `python` and `gunicorn` are on PATH; here they come from the test's virtualenv.
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env['PATH']}"
        self.env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
        self.log_path = tmp_path / "server.log"
        self.proc: subprocess.Popen | None = None

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Run the entrypoint to completion (migrate, validate)."""
        return subprocess.run([str(ENTRYPOINT), *args], env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)

    def start(self) -> None:
        """Entrypoint + CMD in the background, output appended to server.log; wait for /ready."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(ENTRYPOINT), *dockerfile_cmd()], env=self.env, cwd=ROOT,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        poll(lambda: self._check_alive() and status_of(self.url + "/ready") == 200, 90, "/ready 200")

    def _check_alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"exited {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
        return True

    def stop(self) -> int:
        """SIGTERM (what `docker stop` sends to PID 1, which is gunicorn after the exec)."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def get(self, path: str, **kw) -> requests.Response:
        """GET with the token."""
        return requests.get(self.url + path, headers=AUTH, timeout=10, **kw)

    def send(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        """A write with the token."""
        return requests.request(method, self.url + path, json=body, headers=AUTH, timeout=10)


@pytest.fixture
def deployment(tmp_path):
    """A Deployment stopped at the end of the test whatever happened."""
    made = Deployment(tmp_path)
    yield made
    if made.proc is not None and made.proc.poll() is None:
        made.stop()


def test_the_deployment_checklist(deployment):
    # init-db (docker compose run --rm init-db) then validation, as the operator runs them.
    migrated = deployment.run("migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert json.loads(migrated.stdout.splitlines()[-1])["message"] == "database migrations applied"
    validated = subprocess.run([sys.executable, "-m", "flask", "--app", "aime", "validate"], env=deployment.env,
                               cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    deployment.start()
    assert b"gunicorn" in Path(f"/proc/{deployment.proc.pid}/cmdline").read_bytes()  # exec'd: gunicorn is PID 1

    health = deployment.get("/health")
    assert health.status_code == 200
    body = health.json()
    not_passing = {name: check for name, check in body["checks"].items() if check["status"] != "pass"}
    assert not_passing == {}  # unconfigured optional integrations are disabled, which passes
    assert body["status"] == "healthy"
    assert body["database"] == "healthy"
    assert deployment.get("/ready").json() == {"ready": True}
    assert requests.get(deployment.url + "/live", timeout=5).json() == {"alive": True}

    for path in ("/api/v1/collection/albums", "/api/v1/collection/artists", "/api/v1/collection/stats",
                 "/api/v1/history/tracks", "/api/v1/history/stats", "/api/v1/openapi.json", "/metrics"):
        assert deployment.get(path).status_code == 200, path

    # Create, then modify.
    created = deployment.send("POST", "/api/v1/collection/albums", {
        "title": "Kind of Blue", "artists": ["Miles Davis"], "year": 1959, "support": "Vinyle",
        "tracks": [{"track_number": 1, "title": "So What", "duration_seconds": 562}]})
    assert created.status_code == 201, created.text
    album_id = created.json()["id"]
    patched = deployment.send("PATCH", f"/api/v1/collection/albums/{album_id}", {"genre": "Modal jazz"})
    assert patched.status_code == 200 and patched.json()["genre"] == "Modal jazz"
    listen = deployment.send("POST", "/api/v1/history/tracks", {
        "artist": "Miles Davis", "title": "So What", "album": "Kind of Blue", "played_at": "2026-11-01T20:00:00Z"})
    assert listen.status_code == 201, listen.text
    assert deployment.send("POST", "/api/v1/services/scheduler/start").json()["active"] is True

    # Exports download as attachments.
    exported = deployment.get("/api/v1/collection/export/json")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    document = exported.json()
    assert document["total_albums"] == 1
    assert (document["albums"][0]["title"], document["albums"][0]["genre"]) == ("Kind of Blue", "Modal jazz")
    markdown = deployment.get("/api/v1/collection/export/markdown")
    assert markdown.status_code == 200 and markdown.headers["Content-Type"].startswith("text/markdown")
    assert "### Kind of Blue (1959)" in markdown.text and "- **Genre:** Modal jazz" in markdown.text

    # Full restart: stop (SIGTERM), start again, everything is still there.
    assert deployment.stop() == 0
    assert status_of(deployment.url + "/live") is None
    deployment.start()
    album = deployment.get(f"/api/v1/collection/albums/{album_id}").json()
    assert (album["title"], album["genre"], album["year"]) == ("Kind of Blue", "Modal jazz", 1959)
    journal = deployment.get("/api/v1/history/tracks").json()
    assert [(item["title"], item["played_at"]) for item in _items(journal)] == [("So What", "2026-11-01T20:00:00Z")]
    scheduler = poll(lambda: (s := deployment.get("/api/v1/services/scheduler/status").json())["running"] and s,
                     30, "scheduler running again after the restart")
    assert scheduler["active"] is True
    assert deployment.stop() == 0

    # Every line the entrypoint, gunicorn and the app wrote is one JSON object.
    lines = [line for line in deployment.log_path.read_text().splitlines() if line.strip()]
    not_json = [line for line in lines if not _is_json_object(line)]
    assert lines and not not_json, not_json[:5]
    loggers = {json.loads(line)["logger"] for line in lines if _is_json_object(line)}
    assert {"aime.entrypoint", "aime.access"} <= loggers, loggers


GUNICORN_LOG_PROBE = """
import runpy, sys
from gunicorn.config import Config
from gunicorn.glogging import Logger
settings = runpy.run_path("gunicorn.conf.py")
config = Config()
for name, value in settings.items():
    if name in config.settings:
        config.set(name, value)
Logger(config).info("probe line from gunicorn's own logger")
"""


def test_gunicorn_own_lines_are_json(tmp_path):
    # gunicorn's real logger, configured from the shipped gunicorn.conf.py, writing one line.
    env = base_env(tmp_path, free_port())
    result = subprocess.run([sys.executable, "-c", GUNICORN_LOG_PROBE], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "probe line" in line]
    assert len(lines) == 1
    assert _is_json_object(lines[0]), lines[0]


def _items(page: dict) -> list[dict]:
    for key in ("items", "listens", "tracks", "results"):
        if key in page:
            return page[key]
    raise AssertionError(f"no list in {sorted(page)}")


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
