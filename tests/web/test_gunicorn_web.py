"""Under the real gunicorn (2 workers): a sign-in holds on every worker, because each derives the same secret."""
from __future__ import annotations

import os
import re

import pytest
import requests

from tests.conftest import TEST_TOKEN
from tests.support.servers import gunicorn

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_sign_in_holds_across_workers_without_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "SENTRY_DSN",
                                                            "PROMETHEUS_MULTIPROC_DIR", "AIME_DATA_DIR")}
    env.update({"AIME_DATA_DIR": str(tmp_path / "data"), "AIME_API_TOKEN": TEST_TOKEN, "AIME_WORKERS": "2",
                "AIME_THREADS": "2", "AIME_LOG_LEVEL": "warning",
                "AIME_GRACEFUL_TIMEOUT": "3", "AIME_KEEPALIVE": "0",
                # requests (unlike browsers) never sends a Secure cookie to http://127.0.0.1.
                "AIME_SESSION_COOKIE_SECURE": "0"})
    (tmp_path / "data").mkdir()
    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        # Close the connection after each request so the requests spread over both workers.
        browser = requests.Session()
        browser.headers["Connection"] = "close"
        page = browser.get(server.url("/login"), timeout=10)
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        signed = browser.post(server.url("/login"), data={"token": TEST_TOKEN, "csrf_token": csrf},
                              allow_redirects=False, timeout=10)
        assert signed.status_code == 302, server.log_text()[-2000:]
        for _ in range(12):
            response = browser.get(server.url("/services"), timeout=10)
            assert response.status_code == 200
            assert "Sign out" in response.text  # signed in, whichever worker answered
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', response.text).group(1)
        added = browser.post(server.url("/collection/new"), allow_redirects=False, timeout=10, data={
            "title": "Moon Safari", "artists": "Air", "tracks": "La Femme d'Argent | 7:11", "csrf_token": csrf})
        assert added.status_code == 302 and re.fullmatch(r"/collection/\d+", added.headers["Location"])
