"""The SQLite file read-only, deleted, or full while serving."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from aime.errors import DatabaseUnavailable
from tests.resilience.conftest import AUTH, assert_problem, listen_count
from tests.support.polling import poll

pytestmark = [pytest.mark.resilience]


def make_read_only(paths: list[Path]) -> None:
    """Make files/directories unwritable for this process, root included.

    Root ignores permission bits, so as root the inode is made immutable with `chattr +i` (ext4/xfs/btrfs;
    refused on tmpfs and overlayfs, where the test skips). Not root: plain chmod is honoured.
    """
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a file unwritable for root")
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i refused here: {done.stderr.strip()}")


def make_writable(paths: list[Path]) -> None:
    """Undo make_read_only."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)
        return
    subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def new_album(client, title: str):
    """POST an album with the token."""
    return client.post("/api/v1/collection/albums", json={"title": title, "artists": ["Fault Tester"]},
                       headers=AUTH)


@pytest.fixture
def fault_app(make_app):
    """A SQLite app whose health results are never cached (each /health runs the checks)."""
    app = make_app(log_level="ERROR", health_success_ttl=0.0, health_failure_ttl=0.0, disk_min_free_mb=0)
    assert new_album(app.test_client(), "Before").status_code == 201
    return app


def test_read_only_database_and_directory_reads_work_writes_503_health_unhealthy_then_recovers(fault_app):
    client = fault_app.test_client()
    data_dir = fault_app.extensions["aime.config"].data_dir
    locked = sorted(data_dir.glob("musique.db*")) + [data_dir]
    make_read_only(locked)
    try:
        reads = client.get("/api/v1/collection/albums")
        assert reads.status_code == 200 and reads.get_json()["total"] == 1
        for _ in range(3):
            body = assert_problem(new_album(client, "During"), 503)
            assert body["type"] == "https://aime.local/problems/database-unavailable"
        health = client.get("/health", headers=AUTH)
        assert health.status_code == 503 and health.get_json()["status"] == "unhealthy"
        assert health.get_json()["checks"]["data_dir"]["status"] == "fail"
        assert "not writable" in health.get_json()["checks"]["data_dir"]["output"]
    finally:
        make_writable(locked)
    # No restart: the same app takes writes again and /health turns back.
    # No restart: the same app takes writes again. The first attempt may still meet a pooled connection that
    # saw the I/O error (observed about 1 run in 4): it answers the retryable 503, never a 500.
    def write_again():
        response = new_album(client, "After")
        if response.status_code != 201:
            assert_problem(response, 503)
        return response.status_code == 201

    poll(write_again, what="a write accepted again")
    poll(lambda: client.get("/health").status_code == 200, what="/health healthy again")
    titles = sorted(a["title"] for a in client.get("/api/v1/collection/albums").get_json()["items"])
    assert titles == ["After", "Before"]


def test_read_only_database_file_alone_makes_health_unhealthy(fault_app):
    from aime.extensions import db

    client = fault_app.test_client()
    database = fault_app.extensions["aime.config"].data_dir / "musique.db"
    make_read_only([database])
    try:
        with fault_app.app_context():
            db.engine.dispose()  # the next connections open the file as it is now
        assert_problem(new_album(client, "During"), 503)
        health = client.get("/health", headers=AUTH)
        assert health.status_code == 503
        assert health.get_json()["checks"]["database"]["status"] == "fail"
    finally:
        make_writable([database])


def test_deleted_database_file_refuses_writes_instead_of_losing_them(fault_app):
    client = fault_app.test_client()
    data_dir = fault_app.extensions["aime.config"].data_dir
    for path in data_dir.glob("musique.db*"):
        path.unlink()
    # Pooled connections still hold the unlinked file: a write there would be acknowledged and lost.
    body = assert_problem(new_album(client, "Into the void"), 503)
    assert "missing" in body["detail"]
    assert not (data_dir / "musique.db").exists()


def test_deleted_database_file_makes_health_unhealthy(fault_app):
    client = fault_app.test_client()
    for path in fault_app.extensions["aime.config"].data_dir.glob("musique.db*"):
        path.unlink()
    health = client.get("/health", headers=AUTH)
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"]["status"] == "fail"


def import_onto_a_small_disk(fault_app, tmp_path, monkeypatch) -> dict:
    """Import 20,000 plays (batches of 500) into a database allowed ~600 KiB more; return the job report."""
    from aime.extensions import db
    from aime.jobs import imports
    from aime.services.importers import pipeline

    monkeypatch.setattr(pipeline, "BATCH_SIZE", 500)
    start = 1_600_000_000
    rows = [f"{start + 200 * i},Artist {i % 400},Song number {i}" for i in range(20_000)]
    path = tmp_path / "history.csv"
    path.write_text("uts,artist,track\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with fault_app.app_context():
        pages = db.session.execute(sa.text("PRAGMA page_count")).scalar_one()
        db.session.remove()
        db.engine.dispose()

        # The "disk" holds ~600 KiB more than the database uses now: a few batches fit, the rest does not.
        @sa.event.listens_for(db.engine, "connect")
        def _small_disk(dbapi_connection, _record):
            dbapi_connection.execute(f"PRAGMA max_page_count={pages + 150}")

        job_id = imports.create_file_job(path, None)
        report = imports.run_job(job_id)
        db.session.remove()
    return report


def test_disk_full_during_an_import_stops_it_clearly_and_keeps_committed_batches(fault_app, tmp_path, monkeypatch):
    from aime.extensions import db

    report = import_onto_a_small_disk(fault_app, tmp_path, monkeypatch)
    assert report["status"] == "failed", report  # stopped, not left "running"
    committed = listen_count(fault_app)
    assert 0 < committed < 20_000 and committed % 500 == 0, committed  # whole batches only
    assert report["imported"] == committed
    with fault_app.app_context():
        assert db.session.execute(sa.text("PRAGMA integrity_check")).scalar_one() == "ok"
        db.session.remove()
    # API writes on the full database say so, as a 503 problem, not a 500 (small ones may still fit a page).
    client = fault_app.test_client()
    answers = [new_album(client, f"No room {i} " + "x" * 150) for i in range(200)]
    refused = [r for r in answers if r.status_code != 201]
    assert refused, "the database never filled up"
    for response in refused:
        assert "full" in assert_problem(response, 503)["detail"]


def test_disk_full_import_job_message_names_the_full_disk(fault_app, tmp_path, monkeypatch):
    report = import_onto_a_small_disk(fault_app, tmp_path, monkeypatch)
    assert "full" in (report.get("message") or "").lower(), report


def test_a_deleted_database_restored_from_a_backup_takes_writes_again_without_a_restart(fault_app, tmp_path):
    client = fault_app.test_client()
    data_dir = fault_app.extensions["aime.config"].data_dir
    backup = tmp_path / "backup.db"
    with sqlite3.connect(data_dir / "musique.db") as source, sqlite3.connect(backup) as target:
        source.backup(target)
    for path in data_dir.glob("musique.db*"):
        path.unlink()
    assert_problem(new_album(client, "Into the void"), 503)
    shutil.copy(backup, data_dir / "musique.db")  # the operator restores the backup
    assert new_album(client, "After the restore").status_code == 201
    with sqlite3.connect(data_dir / "musique.db") as restored:  # written to the file that is there now
        titles = [row[0] for row in restored.execute("SELECT title FROM albums ORDER BY id")]
    assert titles == ["Before", "After the restore"]
    assert [a["title"] for a in client.get("/api/v1/collection/albums?sort=title").get_json()["items"]] == [
        "After the restore", "Before"]
    assert client.get("/health", headers=AUTH).status_code == 200


def test_a_database_replaced_during_a_write_refuses_that_write_and_the_next_one_lands(fault_app, tmp_path):
    from aime.database import run_write
    from aime.extensions import db
    from aime.models import Artist

    data_dir = fault_app.extensions["aime.config"].data_dir
    backup = tmp_path / "backup.db"
    with sqlite3.connect(data_dir / "musique.db") as source, sqlite3.connect(backup) as target:
        source.backup(target)

    def add_artist_while_the_file_is_restored(name: str) -> None:
        db.session.add(Artist(name=name, name_key=name.lower()))
        db.session.flush()
        (data_dir / "musique.db").unlink()
        shutil.copy(backup, data_dir / "musique.db")  # restored under the open transaction

    with fault_app.app_context(), pytest.raises(DatabaseUnavailable, match="replaced"):
        run_write(add_artist_while_the_file_is_restored, "Lost Artist")
    assert new_album(fault_app.test_client(), "Next").status_code == 201
    with sqlite3.connect(data_dir / "musique.db") as restored:
        names = {row[0] for row in restored.execute("SELECT name FROM artists")}
        titles = [row[0] for row in restored.execute("SELECT title FROM albums ORDER BY id")]
    assert "Lost Artist" not in names and titles == ["Before", "Next"]
