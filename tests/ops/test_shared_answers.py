"""The workers of one gunicorn share the answers they build (aime/server/shared_answers.py): a worker that misses an
answer another worker built at the same data version reads it instead of building it again."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import requests

from aime.server.shared_answers import SharedAnswers
from tests.conftest import TEST_TOKEN  # the database_url fixture: tests/conftest.py
from tests.support.servers import Gunicorn, migrate

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
HEADERS = (("Content-Type", "application/json"), ("Content-Length", "2"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.integration
@pytest.mark.slow
def test_a_worker_serves_the_answer_another_worker_built_at_the_same_data_version(tmp_path, database_url):
    (tmp_path / "data").mkdir()
    (tmp_path / "tmp").mkdir()
    env = {"AIME_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url, "AIME_API_TOKEN": TEST_TOKEN,
           "AIME_WORKERS": "2", "AIME_THREADS": "1", "AIME_LOG_LEVEL": "warning", "TMPDIR": str(tmp_path / "tmp")}
    migrate(env)
    server = Gunicorn(env, tmp_path / "gunicorn.log", "tests.support.slow_app:app").start(wait_path="/ready")
    try:
        def round_of_answers() -> list[tuple[int, int, str]]:
            """(served by, built by, ETag) of new connections until both workers have answered.

            Each connection stays open until the round ends: a worker holding as many connections as it has
            threads (1 here) pauses accepting (aime/server/worker.py), so the next one goes to the other worker.
            With each connection closed after its answer, an idle machine let one worker take all 60 (seen once
            in CI)."""
            seen, held = [], []
            try:
                for _ in range(60):
                    held.append(requests.Session())
                    response = held[-1].get(server.url("/probe/answered-by"), timeout=30)
                    assert response.status_code == 200
                    seen.append((int(response.headers["X-Served-By"]), response.json()["built_by"],
                                 response.headers["ETag"]))
                    if len({served for served, _built, _etag in seen}) == 2:
                        return seen
            finally:
                for session in held:
                    session.close()
            pytest.fail("one worker took every connection")

        first = round_of_answers()
        # Each worker building its own answer would give two `built_by`s: the second worker served the first's.
        assert {built for _served, built, _etag in first} == {first[0][0]}
        assert len({etag for _served, _built, etag in first}) == 1
        [shared] = list((tmp_path / "tmp").glob("aime-answers-*"))
        assert _mode(shared) == 0o700
        [answer] = list(shared.iterdir())
        assert _mode(answer) == 0o600

        # A write moves the data version: the answer kept at the old one is not served again by any worker.
        play = {"artist": "Björk", "title": "Hunter", "album": "Homogenic", "played_at": "2023-11-14T22:13:20Z"}
        assert requests.post(server.url("/api/v1/history/tracks"), json=play, headers=AUTH,
                             timeout=30).status_code == 201
        after = round_of_answers()
        assert {built for _served, built, _etag in after} == {after[0][0]}
        assert {etag for _served, _built, etag in after} == {after[0][2]} and after[0][2] != first[0][2]
    finally:
        server.stop()
    assert list((tmp_path / "tmp").glob("aime-answers-*")) == []  # removed with the server


def test_an_answer_is_read_back_at_its_version_only(tmp_path):
    shared = SharedAnswers(str(tmp_path))
    shared.put("/api/v1/history/stats|2026-12-01", "e1.7.100", b"{}", HEADERS)
    found = shared.get("/api/v1/history/stats|2026-12-01", "e1.7.100")
    assert (found.body, found.headers) == (b"{}", HEADERS)
    assert shared.get("/api/v1/history/stats|2026-12-01", "e1.8.100") is None  # a newer version: built anew
    assert shared.get("/api/v1/history/stats|2026-12-02", "e1.7.100") is None
    [written] = list(tmp_path.iterdir())
    assert _mode(written) == 0o600


def test_the_oldest_answers_go_first_beyond_the_bounds(tmp_path):
    shared = SharedAnswers(str(tmp_path), max_files=2, max_total_bytes=1_000)
    for age, key in enumerate(["/a", "/b", "/c"]):
        shared.put(key, "v1", b"{}", HEADERS)
        written = shared._file(key, "v1")  # noqa: SLF001 - the file's age, set so the order does not hang on the clock
        os.utime(written, ns=(1_000_000_000 * (age + 1),) * 2)
    shared.put("/d", "v1", b"{}", HEADERS)
    assert [key for key in ["/a", "/b", "/c", "/d"] if shared.get(key, "v1")] == ["/c", "/d"]

    big = SharedAnswers(str(tmp_path / "big"), max_files=10, max_total_bytes=150)
    (tmp_path / "big").mkdir()
    shared_body = b"x" * 60  # 60 bytes plus the headers' line: two of them are over 150 bytes
    big.put("/a", "v1", shared_body, HEADERS)
    os.utime(big._file("/a", "v1"), ns=(1_000_000_000, 1_000_000_000))  # noqa: SLF001
    big.put("/b", "v1", shared_body, HEADERS)
    assert [key for key in ["/a", "/b"] if big.get(key, "v1")] == ["/b"]


def test_an_answer_that_cannot_be_written_is_only_not_shared(tmp_path):
    shared = SharedAnswers(str(tmp_path / "gone"))
    shared.put("/a", "v1", b"{}", HEADERS)  # no error: the worker keeps its own copy and goes on
    assert shared.get("/a", "v1") is None


def test_without_a_temporary_directory_the_server_starts_and_workers_keep_their_own_answers(monkeypatch):
    from aime.server import shared_answers

    def no_space(**_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setenv(shared_answers.SHARED_ANSWERS_ENV, "/somewhere/else")  # inherited from a parent: not ours
    monkeypatch.setattr(shared_answers.tempfile, "mkdtemp", no_space)
    assert shared_answers.prepare_shared_answers() is None
    assert shared_answers.shared_answers() is None
    assert shared_answers.SHARED_ANSWERS_ENV not in os.environ
