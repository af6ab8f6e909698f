"""Under the real gunicorn (2 workers, fresh data dir, umask 022 inherited): private file modes, the weak-token
warning at start, the random session secret, and failed-token throttling shared by both workers."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import requests

from tests.support.servers import ROOT, gunicorn

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WEAK = "short-token-123"


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """What a default shell gives: files 0644, directories 0755, unless AIME sets its own umask."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_real_server_files_throttle_and_warning(tmp_path, open_umask):
    data = tmp_path / "data"  # not created: AIME creates it
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "SENTRY_DSN",
                                                            "PROMETHEUS_MULTIPROC_DIR", "AIME_DATA_DIR")}
    env.update({"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": WEAK, "AIME_WORKERS": "2", "AIME_THREADS": "2",
                "AIME_LOG_LEVEL": "warning", "AIME_GRACEFUL_TIMEOUT": "3", "AIME_KEEPALIVE": "0",
                "AIME_SESSION_COOKIE_SECURE": "0"})
    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        http = requests.Session()
        http.headers["Connection"] = "close"  # spread the requests over both workers
        assert http.post(server.url("/api/v1/history/tracks"), timeout=10, json={
            "artist": "A", "title": "T", "played_at": "2024-01-01T10:00:00Z"},
            headers={"Authorization": f"Bearer {WEAK}"}).status_code == 201
        assert http.get(server.url("/login"), timeout=10).status_code == 200
        statuses = [http.post(server.url("/api/v1/collection/albums"), timeout=10, json={},
                              headers={"Authorization": f"Bearer guess-{i}"}).status_code for i in range(5)]
        assert statuses == [401] * 5
        refused = http.post(server.url("/api/v1/history/tracks"), headers={"Authorization": f"Bearer {WEAK}"},
                            json={}, timeout=10)
        assert refused.status_code == 429 and refused.headers["Content-Type"] == "application/problem+json"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert mode(data) == 0o700
        for name in ("musique.db", "musique.db-wal", "session_secret"):
            assert mode(data / name) == 0o600, name
        log = server.log_text()
    assert "WARNING: AIME_API_TOKEN has 15 characters; use at least 32 random ones" in log
    assert log.count("from 127.0.0.1: wrong token") == 5
    backup = subprocess.run([sys.executable, "-m", "flask", "--app", "aime", "backup", "--output",
                             str(data / "backups" / "copy.db")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert backup.returncode == 0, backup.stderr
    assert mode(data / "backups") == 0o700 and mode(data / "backups" / "copy.db") == 0o600
