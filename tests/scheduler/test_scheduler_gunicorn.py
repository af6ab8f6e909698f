"""Under the real gunicorn with 3 workers: one run and one file per accepted trigger; one scheduler holder."""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import POSTGRES_URL, TEST_TOKEN, drop_postgres_database, make_postgres_database
from tests.support.servers import gunicorn

from .conftest import OUTPUT_NAME, poll

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
_SCRUB = ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_STARTUP_VALIDATED", "AIME_STARTED_AT")


@pytest.fixture
def server(tmp_path, monkeypatch):
    """gunicorn with 3 workers on PostgreSQL when available (row locks matter there), else SQLite."""
    for key in _SCRUB:
        monkeypatch.delenv(key, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": TEST_TOKEN, "AIME_WORKERS": "3", "AIME_THREADS": "4",
           "AIME_SERVICE_LEASE_SECONDS": "1.5", "AIME_DISK_MIN_FREE_MB": "0", "AIME_LOG_LEVEL": "info"}
    database = make_postgres_database(POSTGRES_URL) if POSTGRES_URL else None
    if database:
        env["DATABASE_URL"] = database
    try:
        with gunicorn(env, tmp_path / "gunicorn.log") as running:
            running.output = data / "scheduled-output"
            yield running
    finally:
        if database:
            drop_postgres_database(POSTGRES_URL, database)


def _finished(server, run_id):
    def _done():
        body = requests.get(server.url(f"/api/v1/services/scheduler/runs/{run_id}"), timeout=10).json()
        return body if body["status"] != "running" else None
    return poll(_done, timeout=30)


def _worker_pids(master_pid: int) -> set[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return {int(pid) for pid in children}


def test_three_workers_one_scheduler_holder_and_one_run_per_trigger(server):
    """One gunicorn for both checks: booting 3 workers is the expensive part."""
    _only_one_worker_holds_the_scheduler(server)
    _triggers_make_exactly_one_run_and_file_each(server)


def _triggers_make_exactly_one_run_and_file_each(server):
    for title in ("Kind of Blue", "Mezzanine"):
        assert requests.post(server.url("/api/v1/collection/albums"), json={"title": title, "artists": ["X"]},
                             headers=AUTH, timeout=10).status_code == 201
    assert requests.patch(server.url("/api/v1/services/scheduler/config"), json={"max_files_per_type": 100},
                          headers=AUTH, timeout=10).status_code == 200

    # One after the other: every trigger is accepted, whichever worker answers.
    sequential = 6
    for _ in range(sequential):
        response = requests.post(server.url("/api/v1/services/scheduler/trigger/export_json"), headers=AUTH,
                                 timeout=10)
        assert response.status_code == 202, response.text
        assert _finished(server, response.json()["run_id"])["status"] == "success"

    # All at once: a run in progress refuses the others (409) across workers; what was accepted ran exactly once.
    def fire(_):
        return requests.post(server.url("/api/v1/services/scheduler/trigger/export_markdown"), headers=AUTH,
                             timeout=10)
    with ThreadPoolExecutor(max_workers=8) as pool:
        burst = list(pool.map(fire, range(8)))
    assert {r.status_code for r in burst} <= {202, 409}
    accepted = [r.json()["run_id"] for r in burst if r.status_code == 202]
    assert len(accepted) >= 1
    for run_id in accepted:
        assert _finished(server, run_id)["status"] == "success"

    runs = requests.get(server.url("/api/v1/services/scheduler/runs?page_size=100"), timeout=10).json()
    by_task = {name: [r for r in runs["items"] if r["task"] == name] for name in ("export_json", "export_markdown")}
    assert len(by_task["export_json"]) == sequential
    assert sorted(r["id"] for r in by_task["export_markdown"]) == sorted(accepted)
    files = sorted(p.name for p in server.output.iterdir())
    json_files = [f for f in files if re.match(OUTPUT_NAME.format(task="export_json", ext="json"), f)]
    md_files = [f for f in files if re.match(OUTPUT_NAME.format(task="export_markdown", ext="md"), f)]
    assert len(json_files) == sequential and len(md_files) == len(accepted) and len(files) == sequential + len(accepted)
    assert sorted(json_files) == sorted(r["output_file"] for r in by_task["export_json"])
    for name in json_files:
        assert json.loads((server.output / name).read_text(encoding="utf-8"))["total_albums"] == 2


def _only_one_worker_holds_the_scheduler(server):
    response = requests.post(server.url("/api/v1/services/scheduler/start"), headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text

    def _status():
        return requests.get(server.url("/api/v1/services/scheduler/status"), headers=AUTH, timeout=10).json()
    first = poll(lambda: (s := _status())["running"] and s, timeout=30)
    holder = first["holder"]
    assert int(holder.split(":")[1]) in _worker_pids(server.proc.pid)
    # Let the lease be renewed twice (asked of whichever workers answer): the holder never changes.
    renewed = poll(lambda: (s := _status())["lease_expires_at"] > first["lease_expires_at"] and s, timeout=30)
    poll(lambda: (s := _status())["lease_expires_at"] > renewed["lease_expires_at"] and s, timeout=30)
    holders = {_status()["holder"] for _ in range(9)}
    assert holders == {holder}
    loads = poll(lambda: server.log_text().count("scheduler loaded"), timeout=30)
    assert loads == 1, "APScheduler was started in more than one worker"
