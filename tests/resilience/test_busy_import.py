"""Busy is not down, under real gunicorn: a 300,000-row import while probes poll and a person keeps writing.

The shipped worker settings (2 workers x 4 threads). /health, /ready and /live are each polled every 0.2 s
on new connections, and one interactive write a second (a manual play, a love, an album edit, in turn) is
made, from the upload until the import is done: every probe answers 200, every write 2xx, and the import
ends with every row. Latencies are printed (see docs/benchmarks.md), never asserted.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest
import requests

from tests.conftest import TEST_TOKEN
from tests.support.polling import poll
from tests.support.servers import Gunicorn, migrate

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.resilience]
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
ROWS = 300_000
PROBES = ("/health", "/ready", "/live")


@pytest.fixture
def server(tmp_path):
    """gunicorn with the shipped workers and threads on a fresh SQLite database; checks re-run every second."""
    data = tmp_path / "data"
    data.mkdir()
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": TEST_TOKEN, "AIME_LOG_LEVEL": "warning",
           "AIME_DISK_MIN_FREE_MB": "0", "AIME_HEALTH_SUCCESS_TTL": "1", "AIME_GRACEFUL_TIMEOUT": "5",
           # A 1 s check deadline: the old check waited 0.8 s for the write lock and then failed.
           "AIME_HEALTH_CHECK_TIMEOUT": "1"}
    migrate(env)
    gunicorn = Gunicorn(env, tmp_path / "gunicorn.log")
    for key in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_STARTUP_VALIDATED", "AIME_STARTED_AT",
                "AIME_WORKERS", "AIME_THREADS", "AIME_TIMEOUT"):
        gunicorn.env.pop(key, None)  # the shipped defaults
    gunicorn.start(wait_path="/ready")
    gunicorn.data_dir = data
    yield gunicorn
    gunicorn.stop()


def _probe(server, stop: threading.Event, answers: list) -> None:
    while not stop.is_set():
        for path in PROBES:
            started = time.monotonic()
            try:
                response = requests.get(server.url(path), headers={"Connection": "close"}, timeout=30)
                answers.append((path, response.status_code, time.monotonic() - started, response.text[:300]))
            except requests.RequestException as error:
                answers.append((path, type(error).__name__, time.monotonic() - started, ""))
        stop.wait(0.2)


def _writes(server, stop: threading.Event, done: list, album_id: int) -> None:
    """One write a second: a manual play, a love of the last played track, an album edit, in turn."""
    i, track_id = 0, None
    while not stop.is_set():
        started = time.monotonic()
        if i % 3 == 0:
            response = requests.post(server.url("/api/v1/history/tracks"), headers=AUTH, timeout=80,
                                     json={"artist": "Someone", "title": f"Manual {i}"})
            if response.status_code == 201:
                track_id = response.json()["track_id"]
        elif i % 3 == 1:
            response = requests.post(server.url(f"/api/v1/history/tracks/{track_id}/love"), headers=AUTH,
                                     timeout=80, json={"loved": True})
        else:
            response = requests.patch(server.url(f"/api/v1/collection/albums/{album_id}"), headers=AUTH,
                                      timeout=80, json={"year": 1900 + i % 100})
        done.append((i % 3, response.status_code, time.monotonic() - started, response.text[:300]))
        i += 1
        stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def test_a_300k_import_keeps_every_probe_200_and_every_interactive_write_2xx(server):
    album = requests.post(server.url("/api/v1/collection/albums"), headers=AUTH, timeout=30,
                          json={"title": "Edited During Import", "artists": ["Someone"]})
    assert album.status_code == 201, album.text
    history = "uts,artist,track\n" + "".join(
        f"{1_500_000_000 + 200 * i},Artist {i % 37},Song {i % 101}\n" for i in range(ROWS))
    stop, answers, writes = threading.Event(), [], []
    threads = [threading.Thread(target=_probe, args=(server, stop, answers)),
               threading.Thread(target=_writes, args=(server, stop, writes, album.json()["id"]))]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        upload = requests.post(server.url("/api/v1/imports"), headers=AUTH, timeout=120,
                               files={"file": ("recenttracks.csv", history.encode())})
        assert upload.status_code == 202, upload.text
        job_id = upload.json()["id"]
        job = poll(lambda: (lambda j: j if j["status"] not in ("queued", "running") else None)(
            requests.get(server.url(f"/api/v1/imports/{job_id}"), timeout=30).json()), 900, "the import done")
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
    seconds = time.monotonic() - started

    assert (job["status"], job["processed"], job["imported"], job["duplicates"], job["error_count"]) == (
        "done", ROWS, ROWS, 0, 0)
    bad_probes = [a for a in answers if a[1] != 200]
    assert bad_probes == []
    assert {path for path, *_ in answers} == set(PROBES) and len(answers) >= 3 * 10
    bad_writes = [w for w in writes if not (isinstance(w[1], int) and 200 <= w[1] < 300)]
    # Writes ran from before the upload until the import was done (about 9 s on a quiet machine, a minute on a
    # loaded one): each kind of write was made at least once, and none failed.
    assert bad_writes == [] and {kind for kind, *_ in writes} == {0, 1, 2}
    plays = sum(1 for kind, *_ in writes if kind == 0)
    with sqlite3.connect(server.data_dir / "musique.db") as conn:
        assert conn.execute("SELECT count(*) FROM listens").fetchone()[0] == ROWS + plays
    print(json.dumps({  # for docs/benchmarks.md (run with -s); never asserted
        "import_seconds": round(seconds, 1), "probes": len(answers), "writes": len(writes),
        "probe_max_s": round(max(a[2] for a in answers), 3),
        "probe_p99_s": round(sorted(a[2] for a in answers)[int(0.99 * len(answers)) - 1], 3),
        "write_max_s": round(max(w[2] for w in writes), 3),
        "write_p99_s": round(sorted(w[2] for w in writes)[max(0, int(0.99 * len(writes)) - 1)], 3)}))
