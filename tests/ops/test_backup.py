"""`flask --app aime backup`: SQLite online backup API, verified; PostgreSQL gets the pg_dump command."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tests.conftest import TEST_TOKEN, make_config, upgrade

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


@pytest.fixture
def sqlite_app(tmp_path, app_factory):
    """A migrated SQLite app with one album in it."""
    config = make_config(tmp_path)
    config.data_dir.mkdir(parents=True)
    application = app_factory(config)
    upgrade(application)
    created = application.test_client().post("/api/v1/collection/albums", headers=AUTH, json={
        "title": "Blue Train", "artists": ["John Coltrane"], "year": 1958})
    assert created.status_code == 201, created.get_json()
    return application


def rows(path: Path, sql: str) -> list[tuple]:
    """Run a query on a database file, read-only."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_backup_writes_a_verified_self_contained_copy(sqlite_app, tmp_path):
    target = tmp_path / "elsewhere" / "copy.db"
    result = sqlite_app.test_cli_runner().invoke(args=["backup", "--output", str(target)])
    assert result.exit_code == 0, result.output
    size = target.stat().st_size
    assert result.output.startswith(f"backup written: {target} ({size} bytes, integrity ok, ")
    assert rows(target, "SELECT title, year FROM albums") == [("Blue Train", 1958)]
    assert rows(target, "PRAGMA integrity_check") == [("ok",)]
    assert rows(target, "PRAGMA journal_mode") == [("delete",)]
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.db"]  # no .partial, no -wal


def test_default_destination_is_in_the_data_dir_and_existing_files_are_never_overwritten(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    result = runner.invoke(args=["backup"])
    assert result.exit_code == 0, result.output
    backups = list((sqlite_app.extensions["aime.config"].data_dir / "backups").glob("musique-*.db"))
    assert len(backups) == 1 and str(backups[0]) in result.output
    before = backups[0].read_bytes()

    again = runner.invoke(args=["backup", "--output", str(backups[0])])
    assert again.exit_code == 1
    assert f"{backups[0]} already exists; choose another --output." in again.output
    assert backups[0].read_bytes() == before


def test_backup_runs_while_the_database_is_being_written(sqlite_app, tmp_path):
    database = sqlite_app.extensions["aime.config"].data_dir / "musique.db"
    writer = sqlite3.connect(database, check_same_thread=False)
    writer.execute("CREATE TABLE backup_probe (n INTEGER)")  # test-only table in a throwaway database
    writer.commit()
    stop, errors, written = threading.Event(), [], [0]

    def write():
        while not stop.is_set():
            try:
                writer.execute("INSERT INTO backup_probe VALUES (?)", (written[0],))
                writer.commit()
                written[0] += 1
            except sqlite3.Error as error:  # pragma: no cover - the assertion below reports it
                errors.append(error)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        results = [sqlite_app.test_cli_runner().invoke(args=["backup", "--output", str(tmp_path / f"b{i}.db")])
                   for i in range(3)]
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert errors == []
    counts = []
    for i, result in enumerate(results):
        assert result.exit_code == 0, result.output
        counts.append(rows(tmp_path / f"b{i}.db", "SELECT count(*), coalesce(max(n) + 1, 0) FROM backup_probe")[0])
    # Each copy is one consistent snapshot: rows 0..k-1, nothing half-written, and later copies see more.
    assert all(count == top for count, top in counts)
    assert [c for c, _ in counts] == sorted(c for c, _ in counts) and counts[-1][0] <= written[0]


def test_missing_database_file_is_a_clear_error(tmp_path, app_factory):
    config = make_config(tmp_path)
    result = app_factory(config).test_cli_runner().invoke(args=["backup"])
    assert result.exit_code == 1
    assert f"There is no database at {config.data_dir / 'musique.db'} yet" in result.output
    assert not (config.data_dir / "backups").exists() or not any((config.data_dir / "backups").iterdir())


def test_postgresql_gets_the_pg_dump_command_without_the_password(tmp_path, app_factory):
    config = make_config(tmp_path, "postgresql+psycopg://aime:s3cret-pass@db.example:5432/aime")
    result = app_factory(config).test_cli_runner().invoke(args=["backup"])
    assert result.exit_code == 1
    assert "use pg_dump" in result.output
    assert "pg_dump --format=custom --file=aime-" in result.output
    assert "'postgresql://aime@db.example:5432/aime'" in result.output
    assert "s3cret-pass" not in result.output
