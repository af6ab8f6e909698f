"""SQLite connection settings, and writes that wait for a busy database then answer 503, never 500."""
import os
import sqlite3

import pytest
import sqlalchemy as sa

from aime.extensions import db as database
from tests.factories import album_body


@pytest.fixture
def sqlite_only(backend):
    if backend != "sqlite":
        pytest.skip("SQLite-specific")


def test_every_sqlite_connection_has_the_pragmas(app, sqlite_only):
    with app.app_context():
        conn = database.session.connection()
        values = [conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in
                  ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")]
    assert values == ["wal", 1, 5000, 1]  # synchronous NORMAL is 1


def test_server_databases_use_pre_ping_and_recycle():
    from aime.config import Config
    from aime.database import engine_options

    options = engine_options(Config.from_env({"DATABASE_URL": "postgresql+psycopg://u@h/d"}))
    assert options["pool_pre_ping"] is True and options["pool_recycle"] == 3600


def test_write_while_another_process_holds_the_lock_is_503_then_works(app, client, auth, sqlite_only):
    # The app fixture sets write_retry_seconds=2: the write retries for 2 s, then gives up with 503.
    path = sa.engine.make_url(app.extensions["aime.config"].database_url).database
    blocker = sqlite3.connect(path, timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with app.app_context():
            database.engine.dispose()
        # Shorten SQLite's own busy wait so the test is quick; the retry budget still applies.
        with app.app_context():
            @sa.event.listens_for(database.engine, "connect")
            def _short_busy(dbapi_connection, _record):
                dbapi_connection.execute("PRAGMA busy_timeout=100")

        response = client.post("/api/v1/collection/albums", json=album_body(), headers=auth)
        assert response.status_code == 503
        assert response.content_type == "application/problem+json"
        assert response.headers["Retry-After"] == "5"
        assert "locked" not in response.get_data(as_text=True)
        assert client.get("/api/v1/collection/albums").status_code == 200  # reads still work under WAL
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    response = client.post("/api/v1/collection/albums", json=album_body(), headers=auth)
    assert response.status_code == 201


def _wal_bytes(app) -> int:
    path = sa.engine.make_url(app.extensions["aime.config"].database_url).database
    return os.path.getsize(path + "-wal")


def test_a_wal_that_readers_kept_growing_is_emptied_by_the_next_write_once_they_let_go(app, client, auth, sqlite_only,
                                                                                        monkeypatch):
    # Steady overlapping readers keep SQLite's automatic checkpoint from ever starting the WAL file again: here one
    # reader holding an old snapshot stands for them. Past the bound, the write after they let go empties the file.
    from aime import database as db_module

    monkeypatch.setattr(db_module, "WAL_RESET_BYTES", 64 * 1024)
    monkeypatch.setattr(db_module, "WAL_RESET_EVERY_SECONDS", 0.0)
    path = sa.engine.make_url(app.extensions["aime.config"].database_url).database

    def post_album() -> int:
        return client.post("/api/v1/collection/albums", json=album_body(f"Album {created}"), headers=auth).status_code

    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM albums").fetchone()  # the snapshot is now held
    try:
        created = 0
        while _wal_bytes(app) <= 64 * 1024:
            assert post_album() == 201
            created += 1
        # Over the bound with the reader still on its old snapshot: the write succeeds, the file stays (the
        # checkpoint gave up after WAL_RESET_WAIT_MS).
        assert post_album() == 201
        created += 1
        assert _wal_bytes(app) > 64 * 1024
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert post_album() == 201
    created += 1
    assert _wal_bytes(app) == 0  # checkpointed to its end and truncated
    assert client.get("/api/v1/collection/albums?page_size=1").get_json()["total"] == created  # nothing lost


def test_the_session_is_removed_by_one_teardown_per_app_context(app):
    # Flask-SQLAlchemy's own teardown (AimeSQLAlchemy's override), not a second one beside it.
    removers = [f"{getattr(func, '__self__', None).__class__.__name__}.{func.__name__}"
                for func in app.teardown_appcontext_funcs]
    assert removers == ["AimeSQLAlchemy._teardown_session"]
    with app.app_context():
        database.session.execute(sa.text("SELECT 1"))
        session = database.session()
        assert database.session.registry.has()
    with app.app_context():
        assert not database.session.registry.has() and database.session() is not session


def test_a_session_whose_connection_died_is_dropped_with_a_warning_not_raised(app, caplog):
    with caplog.at_level("WARNING", logger="aime.database"), app.app_context():
        database.session.execute(sa.text("SELECT 1"))
        database.session.connection().connection.dbapi_connection.close()
    assert [record.getMessage() for record in caplog.records if record.name == "aime.database"] == [
        "dropped a session whose connection died: " + ("ProgrammingError" if app.config["SQLALCHEMY_DATABASE_URI"]
                                                       .startswith("sqlite") else "OperationalError")]
    with app.app_context():
        assert database.session.execute(sa.text("SELECT 1")).scalar() == 1  # the next context has a working one
