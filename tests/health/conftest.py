"""Fixtures for health tests: a log capture of the `aime` logger and the token header."""
from __future__ import annotations

import logging

import pytest

from tests.conftest import TEST_TOKEN


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
