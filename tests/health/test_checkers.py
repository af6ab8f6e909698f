"""Built-in checkers against the real database, filesystem, counters and local HTTP servers."""
from __future__ import annotations

import os
import re
import sqlite3
import time

import pytest
import sqlalchemy as sa
import time_machine
from flask_migrate import stamp

from aime.extensions import db
from aime.health.checkers.migrations import script_heads
from aime.health.registry import get_registry
from aime.models import ImportJob, ServiceState
from tests.conftest import HANG_ONLY_CHECK_DEADLINE
from tests.factories import album_body
from tests.support.polling import poll
from tests.support.servers import free_port

UNREACHABLE_PG = "postgresql+psycopg://x@127.0.0.1:1/none"


def run(app, name):
    """Run one checker now (bypassing the cache) and return its result."""
    return get_registry(app).results(force=True, names=[name])[name].result


def test_database_round_trip_reports_latency_pool_and_journal_mode(app, backend):
    result = run(app, "database")
    assert result.status == "pass"
    assert result.output == "database answers"
    assert result.observed_unit == "ms" and result.observed_value >= 0
    assert isinstance(result.details["pool_in_use"], int)
    if backend == "sqlite":
        assert result.details["journal_mode"] == "wal"


def test_a_write_lock_held_elsewhere_is_busy_not_down_until_writes_stall(make_app, auth):
    # Each refused write waits its 2 s retry budget (the test config); the 5 s stall budget takes three.
    app = make_app(health_check_timeout=HANG_ONLY_CHECK_DEADLINE, sqlite_busy_timeout_ms=50, db_write_stall_seconds=5.0)
    client = app.test_client()
    path = app.extensions["aime.config"].database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process's writer (WAL: readers still read)
    try:
        result = run(app, "database")
        assert (result.status, result.output) == ("pass", "database answers")  # busy is not down
        assert client.get("/ready").json == {"ready": True}
        assert client.get("/health").json["status"] == "healthy"

        refused = client.post("/api/v1/collection/albums", json=album_body(), headers=auth)
        assert refused.status_code == 503
        result = run(app, "database")
        assert (result.status, result.output) == ("warn", "database busy, writes waiting")
        assert client.get("/ready").status_code == 200

        def stalled():  # writes keep being refused while nothing commits anywhere
            assert client.post("/api/v1/collection/albums", json=album_body(), headers=auth).status_code == 503
            return run(app, "database").status == "fail"
        poll(stalled, 30, "the stall reported")
        result = run(app, "database")
        assert re.fullmatch(r"no write possible for \d+ s and no writer progressing", result.output), result.output
        assert client.get("/ready").status_code == 503
        assert client.get("/live").status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert client.post("/api/v1/collection/albums", json=album_body(), headers=auth).status_code == 201
    assert (run(app, "database").status, run(app, "database").output) == ("pass", "database answers")


def test_a_running_import_is_named_as_the_busy_writer(make_app):
    app = make_app()
    with app.app_context():
        db.session.add(ImportJob(filename="h.csv", stored_path="/nowhere", format="lastfm-csv", status="running",
                                 skipped=[], errors=[]))
        db.session.add(ServiceState(name="discogs-sync", active=False, state={"status": "running"}))
        db.session.commit()
        job_id = db.session.scalar(sa.select(ImportJob.id))
    result = run(app, "database")
    assert (result.status, result.output) == (
        "pass", f"database answers (busy: import {job_id} running, discogs-sync running)")
    assert result.details["writers"] == [f"import {job_id} running", "discogs-sync running"]


def test_a_full_disk_fails_the_database_check_until_a_write_lands(make_app):
    app = make_app()
    with app.app_context():
        from aime.write_activity import activity

        activity(app).refused_full()
        assert (run(app, "database").status, run(app, "database").output) == (
            "fail", "database disk is full: writes are refused")
        activity(app).committed()
    assert run(app, "database").status == "pass"


def test_unreachable_postgresql_is_unhealthy_but_alive(make_app):
    app = make_app(migrate=False, database_url=UNREACHABLE_PG, health_check_timeout=HANG_ONLY_CHECK_DEADLINE)
    client = app.test_client()
    assert run(app, "database").output == "database unreachable (OperationalError)"
    health = client.get("/health")
    assert health.status_code == 503 and health.json["database"] == "unhealthy"
    assert "x@127.0.0.1" not in health.get_data(as_text=True)
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json["ready"] is False
    assert "database: database unreachable (OperationalError)" in ready.json["reasons"]
    assert client.get("/live").json == {"alive": True}


def test_migrations_behind_head_fail_with_the_fix(make_app):
    app = make_app(migrate=False)
    assert run(app, "migrations").output == "database not migrated: run `flask --app aime db upgrade`"
    with app.app_context():
        stamp(revision="0001")
    heads = ", ".join(sorted(script_heads(app)))
    assert run(app, "migrations").output == (
        f"schema at 0001, code expects {heads}: run `flask --app aime db upgrade`")
    with app.app_context():
        stamp(revision="head")
    assert run(app, "migrations").status == "pass"


def test_data_dir_missing_fails(make_app, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    app = make_app(migrate=False, data_dir=elsewhere)
    assert run(app, "data_dir").status == "pass"
    elsewhere.rmdir()
    result = run(app, "data_dir")
    assert (result.status, result.output) == ("fail", "data directory does not exist")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_data_dir_read_only_fails(make_app, tmp_path):
    readonly = tmp_path / "readonly"
    app = make_app(migrate=False, data_dir=readonly)
    readonly.chmod(0o500)
    try:
        assert run(app, "data_dir").output.startswith("data directory is not writable")
    finally:
        readonly.chmod(0o700)


def test_disk_space_warns_below_the_minimum(make_app):
    assert run(make_app(migrate=False, disk_min_free_mb=0), "disk_space").status == "pass"
    result = run(make_app(migrate=False, disk_min_free_mb=10**12), "disk_space")
    assert result.status == "warn" and result.output.endswith("below 1000000000000 MiB")


def test_error_rate_over_the_last_five_minutes(make_app):
    app = make_app(error_rate_warn=5.0)

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    client = app.test_client()
    checker = get_registry(app).checker("error_rate")
    with time_machine.travel(time.time() + 10, tick=False) as traveller:
        with app.app_context():
            assert checker.check().output == "no requests in the last 5 minutes"
        assert client.get("/boom").status_code == 500
        client.get("/nowhere")  # 404: a request, not an error
        client.get("/nowhere")
        client.get("/health")  # probes are not counted
        with app.app_context():
            result = checker.check()
        assert (result.status, result.observed_value) == ("warn", 33.33)
        assert result.output == "1 of 3 requests failed in the last 5 minutes (33.33%), above 5.0%"
        traveller.shift(400)  # the failure leaves the window
        client.get("/nowhere")
        client.get("/nowhere")
        with app.app_context():
            result = checker.check()
        assert (result.status, result.output) == ("pass", "0 of 2 requests failed in the last 5 minutes (0.00%)")


def test_background_services_active_but_not_running_warn(app, db):
    now = time.time()
    db.session.add_all([
        ServiceState(name="tracker", active=True, lease_owner="host:1", lease_expires_at=now + 60),
        ServiceState(name="discogs", active=True, lease_owner="host:2", lease_expires_at=now - 5),
        ServiceState(name="scheduler", active=True, lease_owner=None, lease_expires_at=None),
        ServiceState(name="idle", active=False),
    ])
    db.session.commit()
    result = run(app, "background_services")
    assert result.status == "warn"
    assert result.output == "active but not running: discogs, scheduler"
    assert result.observed_value == 2


def test_integrations_never_make_the_service_unhealthy(make_app, httpserver):
    httpserver.expect_request("/2.0/").respond_with_json({"ok": True})
    app = make_app(lastfm_api_key="lfm-key-123456", lastfm_base_url=httpserver.url_for("/2.0"),
                   discogs_token="dg-token-123456", discogs_base_url=f"http://127.0.0.1:{free_port()}",
                   health_check_timeout=HANG_ONLY_CHECK_DEADLINE)
    lastfm, discogs, spotify = run(app, "lastfm"), run(app, "discogs"), run(app, "spotify")
    assert (lastfm.status, lastfm.output) == ("pass", "reachable (HTTP 200)")
    assert (discogs.status, discogs.output) == ("warn", "unreachable (ConnectionError)")
    assert (spotify.status, spotify.output) == ("pass", "disabled (not configured)")
    assert "lfm-key-123456" not in httpserver.log[0][0].url  # reachability never sends the credential
    response = app.test_client().get("/health")
    assert response.status_code == 200 and response.json["status"] == "degraded"


def test_a_deleted_sqlite_file_fails_even_with_pooled_connections(make_app):
    app = make_app()
    assert run(app, "database").status == "pass"  # a pooled connection now holds the file open
    for path in app.extensions["aime.config"].data_dir.glob("musique.db*"):
        path.unlink()
    result = run(app, "database")
    assert (result.status, result.output) == ("fail", "database file is missing")
    assert app.test_client().get("/health").status_code == 503
