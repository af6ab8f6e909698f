"""What every conditional GET must do on a repeat, checked the same way for each route that has one."""
from __future__ import annotations

from aime.api import conditional


def assert_answers_304_on_repeat(client, path: str) -> str:
    """GET path: 200 with the cache header; again with its ETag: 304, empty; again without: the kept 200. The ETag."""
    first = client.get(path)
    assert first.status_code == 200, path
    assert first.headers["Cache-Control"] == conditional.CACHE_CONTROL
    etag = first.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", etag), path
    kept = client.get(path)  # no If-None-Match: the same answer from the worker's cache
    assert (kept.status_code, kept.data, kept.headers["ETag"]) == (200, first.data, etag), path
    return etag


def assert_revalidated_after_a_write(client, before: dict) -> dict:
    """GET each path of `before` ({path: its earlier response}) with that response's ETag, after a write: each
    must answer 200 with a new ETag (not 304). The new responses, by path."""
    after = {path: client.get(path, headers={"If-None-Match": old.headers["ETag"]}) for path, old in before.items()}
    for path, response in after.items():
        assert response.status_code == 200, path
        assert response.headers["ETag"] != before[path].headers["ETag"], path
    return after
