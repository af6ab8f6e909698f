"""Request deadlines under real gunicorn (shipped worker, AIME_TIMEOUT=3): late and slow requests end in 503."""
from __future__ import annotations

import pytest
import requests

from tests.conftest import POSTGRES_URL, drop_postgres_database, make_postgres_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def database_env(backend):
    """DATABASE_URL for the backend under test (a fresh PostgreSQL database, or the default SQLite file)."""
    if backend == "sqlite":
        yield {}
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (AIME_TEST_POSTGRES_URL unset)")
    url = make_postgres_database(POSTGRES_URL)
    yield {"DATABASE_URL": url}
    drop_postgres_database(POSTGRES_URL, url)


def assert_deadline_503(response: requests.Response) -> None:
    """503 problem+json of the deadline kind, with Retry-After."""
    assert response.status_code == 503, response.text[:300]
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    assert response.json()["type"] == "https://aime.local/problems/deadline-exceeded"


def test_a_10_s_handler_and_a_slow_query_answer_503_and_the_thread_serves_the_next_request(slow_server,
                                                                                             database_env):
    # One worker with one application thread: if a stopped request kept its thread, nothing else would answer.
    server = slow_server(AIME_TIMEOUT="3", AIME_WORKERS="1", AIME_THREADS="1", **database_env)
    assert_deadline_503(requests.get(server.url("/slow-query"), timeout=60))
    assert requests.get(server.url("/api/v1/collection/albums"), timeout=30).status_code == 200
    assert_deadline_503(requests.get(server.url("/slow?seconds=10"), timeout=60))
    for _ in range(3):
        assert requests.get(server.url("/api/v1/collection/albums"), timeout=30).status_code == 200
    assert requests.get(server.url("/slow?seconds=0.1"), timeout=30).json()["slept"] == 0.1
