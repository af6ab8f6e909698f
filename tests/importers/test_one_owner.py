"""One owner per job, really: two gunicorn instances of two workers each on one database run a stale job once.

The lease identity used to be host:pid computed when aime.services.imports was imported, which happens in
gunicorn's master (gunicorn.conf.py imports aime): every worker of an instance had the same identity, so
each took the other's job for its own and both ran it. Now it is computed in each process (aime.identity).
"""
from __future__ import annotations

import json
import sqlite3
import time

import pytest

from aime.config import Config
from aime.extensions import db
from aime.identity import owner_id
from aime.models import ImportJob, ServiceState
from aime.jobs import imports
from tests.conftest import TEST_TOKEN
from tests.support.polling import poll
from tests.support.servers import Gunicorn, migrate

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS = 20_000


def _stale_job(app, rows: int) -> int:
    """An upload job left 'running' by a process that died (lease expired), its file in the upload dir."""
    lines = "".join(f"{1_600_000_000 + 200 * i},Artist {i % 37},Song {i % 101}\n" for i in range(rows))
    with app.app_context():
        directory = imports.upload_dir(app.extensions["aime.config"])
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "stale.upload").write_text("uts,artist,track\n" + lines, encoding="utf-8")
        job_id = imports.run_write(imports._create_job, "h.csv", str(directory / "stale.upload"), "lastfm-ghan-csv")
        state = db.session.get(ServiceState, imports.lease_name(job_id))
        state.lease_owner, state.lease_expires_at = "dead-host:1:0", time.time() - 1
        db.session.get(ImportJob, job_id).status = "running"
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return job_id


def _job(data, job_id: int) -> tuple:
    with sqlite3.connect(data / "musique.db") as conn:
        job = conn.execute("SELECT status, processed, imported, duplicates FROM imports WHERE id = ?",
                           (job_id,)).fetchone()
        listens = conn.execute("SELECT count(*) FROM listens").fetchone()[0]
    return job, listens


def test_a_stale_job_is_run_once_by_two_instances_of_two_workers(tmp_path, app_factory):
    data = tmp_path / "data"
    env = {"AIME_DATA_DIR": str(data), "AIME_API_TOKEN": TEST_TOKEN, "AIME_LOG_LEVEL": "info",
           "AIME_WORKERS": "2", "AIME_IMPORT_LEASE_SECONDS": "3", "AIME_DISK_MIN_FREE_MB": "0"}
    migrate(env)
    job_id = _stale_job(app_factory(Config.from_env(env)), ROWS)
    servers = []
    try:
        for name in ("a", "b"):
            server = Gunicorn(env, tmp_path / f"gunicorn-{name}.log")
            for key in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN", "AIME_STARTUP_VALIDATED"):
                server.env.pop(key, None)
            servers.append(server.start(wait_path="/live"))
        # Four workers look for stale jobs every 3 s: the job is done once one of them ran it.
        poll(lambda: _job(data, job_id)[0][0] == "done", 120, "the job done")
        time.sleep(3.5)  # one more resumer period in every worker: nothing may start the job again
    finally:
        for server in servers:
            server.stop()
    (status, processed, imported, duplicates), listens = _job(data, job_id)
    assert (status, processed, imported, duplicates, listens) == ("done", ROWS, ROWS, 0, ROWS)
    runs = [json.loads(line) for server in servers for line in server.log_text().splitlines()
            if f"import {job_id} runs in" in line]
    assert len(runs) == 1, runs
    assert runs[0]["message"].endswith(" from row 0")


def test_the_owner_is_unique_per_process_and_per_start_and_computed_after_a_fork(app_factory, tmp_path):
    import os

    first = app_factory(Config.from_env({"AIME_DATA_DIR": str(tmp_path / "one")}))
    second = app_factory(Config.from_env({"AIME_DATA_DIR": str(tmp_path / "two")}))
    mine = owner_id(first)
    assert mine == owner_id(first)  # stable within a process
    assert mine != owner_id(second)  # another start (same pid): another identity
    host, pid, nonce = mine.split(":")
    assert int(pid) == os.getpid() and len(nonce) == 8
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the forked child (as a gunicorn worker is): its own identity, not its parent's
        os.write(write, owner_id(first).encode())
        os._exit(0)
    os.waitpid(child, 0)
    theirs = os.read(read, 200).decode()
    assert theirs.split(":")[1] == str(child) and theirs != mine
