"""`flask --app aime restore BACKUP`: verified first, refuses to replace data without --force, migrates old backups."""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade as alembic_upgrade

from aime.services.restore import table_counts
from tests.conftest import TEST_TOKEN
from tests.support.servers import ROOT, gunicorn
from datetime import UTC

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


def listens_checksum(path: Path) -> str:
    """sha256 of every listen, in id order (what a restore must bring back bit for bit)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        for row in connection.execute("SELECT id, track_id, played_at, source, client, listened_seconds, import_id, "
                                      "created_at FROM listens ORDER BY id"):
            digest.update(repr(row).encode())
        return digest.hexdigest()
    finally:
        connection.close()


def revision(path: Path) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        connection.close()


def flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "aime", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "SENTRY_DSN",
                                                            "PROMETHEUS_MULTIPROC_DIR", "AIME_DATA_DIR")}
    env.update({"AIME_DATA_DIR": str(data_dir), "AIME_API_TOKEN": TEST_TOKEN, "AIME_LOG_LEVEL": "warning",
                "AIME_WORKERS": "2", "AIME_THREADS": "2", "AIME_GRACEFUL_TIMEOUT": "3"})
    data_dir.mkdir(parents=True, exist_ok=True)
    return env


@pytest.mark.integration
def test_backup_under_write_load_restores_into_a_fresh_data_dir_with_every_row(tmp_path):
    source_env = _env(tmp_path / "source")
    backup = tmp_path / "backup.db"
    with gunicorn(source_env, tmp_path / "gunicorn.log") as server:
        album = requests.post(server.url("/api/v1/collection/albums"), headers=AUTH, timeout=10, json={
            "title": "Homogenic", "artists": ["Björk"], "year": 1997,
            "tracks": [{"title": "Hunter", "duration_seconds": 255}, {"title": "Jóga", "duration_seconds": 305}]})
        assert album.status_code == 201
        stop, written, failures = threading.Event(), [0], []

        def write(worker: int) -> None:
            session = requests.Session()
            while not stop.is_set():
                moment = 1_600_000_000 + worker * 10_000_000 + written[0] * 600
                response = session.post(server.url("/api/v1/history/tracks"), headers=AUTH, timeout=30, json={
                    "artist": f"Writer {worker}", "title": f"Song {written[0] % 7}", "album": "Load",
                    "played_at": _iso(moment)})
                if response.status_code != 201:
                    failures.append(response.status_code)
                written[0] += 1

        writers = [threading.Thread(target=write, args=(n,)) for n in range(2)]
        for thread in writers:
            thread.start()
        try:
            while written[0] < 40:  # the writers are well under way
                stop.wait(0.05)
            result = flask(source_env, "backup", "--output", str(backup))
            written_at_backup = written[0]
        finally:
            stop.set()
            for thread in writers:
                thread.join()
    assert failures == []
    assert result.returncode == 0, result.stderr
    counts = table_counts(backup)
    assert counts["listens"] >= 40 and counts["albums"] == 3  # Homogenic and each writer's "Load"
    assert written_at_backup >= 40

    target_env = _env(tmp_path / "fresh")
    restored = flask(target_env, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    database = tmp_path / "fresh" / "musique.db"
    assert restored.stdout.startswith(f"restored {backup} into {database} (revision ")
    assert table_counts(database) == counts
    assert listens_checksum(database) == listens_checksum(backup)
    # The restored instance answers with the same history.
    with gunicorn(target_env, tmp_path / "gunicorn-restored.log") as server:
        journal = requests.get(server.url("/api/v1/history/tracks"), params={"page_size": 1}, timeout=10).json()
        assert journal["total"] == counts["listens"]


def _iso(epoch: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add_play(application, title: str, when: str) -> None:
    response = application.test_client().post("/api/v1/history/tracks", headers=AUTH, json={
        "artist": "Air", "title": title, "played_at": when})
    assert response.status_code == 201, response.get_json()


def test_a_database_holding_data_is_replaced_only_with_force(make_app, tmp_path):
    application = make_app()
    _add_play(application, "La Femme d'Argent", "2024-01-01T10:00:00Z")
    backup = tmp_path / "b.db"
    runner = application.test_cli_runner()
    assert runner.invoke(args=["backup", "--output", str(backup)]).exit_code == 0
    _add_play(application, "Kelly Watch the Stars", "2024-01-02T10:00:00Z")
    database = application.extensions["aime.config"].data_dir / "musique.db"
    refused = runner.invoke(args=["restore", str(backup)])
    assert refused.exit_code == 1
    assert f"{database} already holds data. Stop AIME, then run the restore again with --force" in refused.output
    assert table_counts(database)["listens"] == 2  # untouched
    forced = runner.invoke(args=["restore", str(backup), "--force"])
    assert forced.exit_code == 0, forced.output
    assert table_counts(database)["listens"] == 1
    journal = application.test_client().get("/api/v1/history/tracks").get_json()
    assert [item["title"] for item in journal["items"]] == ["La Femme d'Argent"]


def test_an_older_backup_is_migrated_to_this_version(make_app, tmp_path):
    old = make_app(migrate=False)
    with old.app_context():
        alembic_upgrade(revision="0003")
    path = old.extensions["aime.config"].data_dir / "musique.db"
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO artists (id, name, name_key, created_at) VALUES (1, 'Air', 'air', 0)")
    connection.execute("INSERT INTO tracks (id, title, title_key, artist_id, loved, created_at) "
                       "VALUES (1, 'Playground Love', 'playground love', 1, 0, 0)")
    connection.execute("INSERT INTO listens (track_id, played_at, source, created_at) VALUES (1, 1700000000, 'x', 0)")
    connection.execute("INSERT INTO track_play_totals VALUES (1, 1, 1700000000, 1700000000)")
    connection.commit()
    connection.close()
    fresh = make_app(migrate=False)
    result = fresh.test_cli_runner().invoke(args=["restore", str(path)])
    assert result.exit_code == 0, result.output
    database = fresh.extensions["aime.config"].data_dir / "musique.db"
    head = revision(tmp_path / "app0" / "data" / "musique.db")
    assert head == "0003" and "(revision 0003 -> " in result.output
    with sqlite3.connect(database) as check:
        assert check.execute("SELECT version_num FROM alembic_version").fetchone()[0] != "0003"
        assert check.execute("SELECT plays, listened_seconds, listened_plays FROM track_play_totals").fetchall() == [
            (1, 0, 0)]
    stats = fresh.test_client().get("/api/v1/history/stats").get_json()
    assert (stats["total_tracks"], stats["plays_without_duration"]) == (1, 1)


def test_unreadable_or_unknown_backups_are_refused_and_nothing_is_touched(make_app, tmp_path):
    application = make_app(migrate=False)
    database = application.extensions["aime.config"].data_dir / "musique.db"
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    result = application.test_cli_runner().invoke(args=["restore", str(garbage)])
    assert result.exit_code == 1
    assert f"{garbage} is not a readable SQLite database" in result.output
    assert not database.exists()
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES ('9999')")
    result = application.test_cli_runner().invoke(args=["restore", str(newer)])
    assert result.exit_code == 1
    assert "has schema revision '9999', which this AIME does not know" in result.output
    assert not database.exists()


def test_postgresql_gets_the_pg_restore_command_without_the_password(make_app, tmp_path):
    dump = tmp_path / "aime.dump"
    dump.write_bytes(b"PGDMP")
    application = make_app(migrate=False, database_url="postgresql+psycopg://aime:s3cret-pass@db.example:5432/aime")
    result = application.test_cli_runner().invoke(args=["restore", str(dump)])
    assert result.exit_code == 1
    assert f"pg_restore --clean --if-exists --no-owner --dbname='postgresql://aime@db.example:5432/aime' {dump}" \
        in result.output
    assert "s3cret-pass" not in result.output
