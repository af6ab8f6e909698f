"""Fixtures for health tests: apps with chosen settings, a log capture, gunicorn running any WSGI module."""
from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from tests.conftest import TEST_TOKEN
from tests.support.servers import ROOT, Gunicorn, wait_for


class LogCapture(logging.Handler):
    """Collects records of the `aime` logger (which does not propagate to the root, so caplog misses it)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, logger: str | None = None) -> list[str]:
        """Formatted messages, optionally of one logger only."""
        return [r.getMessage() for r in self.records if logger is None or r.name == logger]


@pytest.fixture
def aime_logs():
    """Capture everything logged under `aime` during the test."""
    handler = LogCapture()
    logger = logging.getLogger("aime")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def token_headers():
    """Authorization header with the test token."""
    return {"Authorization": f"Bearer {TEST_TOKEN}"}


class AppGunicorn(Gunicorn):
    """The shipped gunicorn.conf.py serving a chosen WSGI module (e.g. tests.support.slow_app:app)."""

    def __init__(self, env, log_path, module: str = "wsgi:app"):
        super().__init__(env, log_path)
        self.module = module

    def start(self, wait_path: str = "/live", timeout: float = 60.0) -> "AppGunicorn":
        """Start the master and wait until wait_path answers 200."""
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), self.module],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait_path:
            wait_for(self.base_url + wait_path, timeout=timeout, proc=self.proc)
        return self
