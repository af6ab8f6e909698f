"""Conditional GETs under real gunicorn (2 workers): every worker agrees on the ETag, and after a write every
worker's next answer is the new one, though each had kept the old answer in its cache."""
from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import TEST_TOKEN  # the database_url fixture: tests/conftest.py
from tests.support.servers import gunicorn

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
ROUNDS = 24  # fresh connections per step: gunicorn hands each to whichever worker accepts it first
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _fresh_get(url: str, **headers) -> requests.Response:
    return requests.get(url, headers={"Connection": "close", **headers}, timeout=10)


def _answers(url: str, **headers) -> set[tuple[int, str, bytes]]:
    """The distinct (status, ETag, body) seen over ROUNDS requests, each on a new connection."""
    seen = set()
    for _ in range(ROUNDS):
        response = _fresh_get(url, **headers)
        seen.add((response.status_code, response.headers.get("ETag", ""), response.content))
    return seen


def test_every_worker_sees_a_write_in_its_next_read(tmp_path, database_url):
    env = {"AIME_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url, "AIME_API_TOKEN": TEST_TOKEN,
           "AIME_WORKERS": "2", "AIME_THREADS": "2", "AIME_LOG_LEVEL": "warning"}
    (tmp_path / "data").mkdir()
    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        body = {"title": "Homogenic", "artists": ["Björk"], "tracks": [{"title": "Hunter"}, {"title": "Jóga"}]}
        album = requests.post(server.url("/api/v1/collection/albums"), json=body, headers=AUTH, timeout=10).json()
        detail, journal = server.url(f"/api/v1/collection/albums/{album['id']}"), server.url("/api/v1/history/tracks")

        before = _answers(detail)  # both workers now keep this answer
        assert len(before) == 1
        status, etag, content = before.pop()
        assert status == 200 and json.loads(content)["play_count"] == 0
        assert _answers(detail, **{"If-None-Match": etag}) == {(304, etag, b"")}
        assert {status for status, _etag, _body in _answers(journal)} == {200}

        play = {"artist": "Björk", "title": "Hunter", "album": "Homogenic", "played_at": "2023-11-14T22:13:20Z"}
        assert requests.post(journal, json=play, headers=AUTH, timeout=10).status_code == 201

        after = _answers(detail, **{"If-None-Match": etag})
        assert len(after) == 1
        status, new_etag, content = after.pop()
        assert status == 200 and new_etag != etag and json.loads(content)["play_count"] == 1
        titles = {tuple(item["title"] for item in requests.get(journal, headers={"Connection": "close"},
                                                                timeout=10).json()["items"]) for _ in range(ROUNDS)}
        assert titles == {("Hunter",)}

        assert requests.patch(detail, json={"year": 1997}, headers=AUTH, timeout=10).status_code == 200
        years = {_fresh_get(detail).json()["year"] for _ in range(ROUNDS)}
        assert years == {1997}
