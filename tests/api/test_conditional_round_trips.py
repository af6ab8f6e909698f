"""What a conditional read costs the database: one checkout per request, the version read once, and on
PostgreSQL no transaction around the version read of a kept answer (the pool's ping and one SELECT)."""
from __future__ import annotations

import gc
import os
import threading
import warnings

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from aime.extensions import db as database
from aime.services import data_version
from tests.factories import add_listen
from tests.support.polling import poll

PLAYED = "2023-11-14T22:13:20Z"
STATS = "/api/v1/history/stats?start_date=2023-11-14&end_date=2023-11-14&tz=UTC"
ALBUMS = "/api/v1/collection/albums"


@pytest.fixture
def played(client, auth):
    """One play of Björk's Hunter."""
    return add_listen(client, auth, "Björk", "Hunter", PLAYED, album="Homogenic")


@pytest.fixture
def version_reads(monkeypatch):
    """Every read of the data version during the test, by how it was read."""
    reads: list[str] = []
    current, in_session = data_version.current, data_version.in_session

    def counted_current():
        reads.append("alone")
        return current()

    def counted_in_session(session):
        reads.append("in session")
        return in_session(session)

    monkeypatch.setattr(data_version, "current", counted_current)
    monkeypatch.setattr(data_version, "in_session", counted_in_session)
    return reads


def _checkouts(engine, call) -> int:
    seen = []

    def note(*_args):
        seen.append(1)

    event.listen(engine, "checkout", note)
    try:
        call()
    finally:
        event.remove(engine, "checkout", note)
    return len(seen)


def test_a_statistics_read_reads_the_version_once(client, played, version_reads):
    """conditional_get reads it, answer_memo reuses it (it used to read it again)."""
    assert client.get(STATS).get_json()["total_tracks"] == 1
    assert version_reads == ["in session"]
    version_reads.clear()
    assert client.get(STATS).status_code == 200  # kept: the version alone, the view not run
    assert version_reads == ["alone"]


def test_a_first_read_checks_out_one_connection(app, client, played, backend):
    """No app context held by the test: each request's session is its own, as under a server. A kept answer reads
    the version alone on a connection the thread keeps for it, on both backends: no checkout at all, for a kept
    answer or a 304, from the first one on."""
    with app.app_context():
        engine = database.engine
    assert _checkouts(engine, lambda: client.get(ALBUMS)) == 1
    assert _checkouts(engine, lambda: client.get(ALBUMS)) == 0
    etag = client.get(ALBUMS).headers["ETag"]
    assert _checkouts(engine, lambda: client.get(ALBUMS, headers={"If-None-Match": etag})) == 0
    assert _checkouts(engine, lambda: [client.get(ALBUMS) for _ in range(5)]) == 0


def test_a_revalidation_reads_the_version_alone(client, played, version_reads):
    """With If-None-Match the answer may be a 304: no session is opened for it."""
    etag = client.get(ALBUMS).headers["ETag"]
    version_reads.clear()
    fresh = client.application.test_client()
    client.application.extensions["aime.response_cache"] = type(
        client.application.extensions["aime.response_cache"])()  # another worker: nothing kept
    assert fresh.get(ALBUMS, headers={"If-None-Match": etag}).status_code == 304
    assert version_reads == ["alone"]


def test_postgresql_reads_a_kept_answers_version_without_a_transaction(app, client, played, backend,
                                                                       monkeypatch):
    if backend != "postgresql":
        pytest.skip("psycopg's own BEGIN/ROLLBACK")
    import psycopg

    sent: list[bytes] = []
    command = psycopg.Connection._exec_command  # noqa: SLF001

    def noted(self, query, *args, **kwargs):
        sent.append(bytes(query) if isinstance(query, bytes | bytearray) else str(query).encode())
        return command(self, query, *args, **kwargs)

    client.get(ALBUMS)
    monkeypatch.setattr(psycopg.Connection, "_exec_command", noted)
    assert client.get(ALBUMS).status_code == 200
    assert sent == []  # no BEGIN, no ROLLBACK: the ping and the SELECT only


def _statements(monkeypatch) -> list[str]:
    """Every statement psycopg's cursors execute from now on (the pool's ping included)."""
    import psycopg

    executed: list[str] = []
    execute = psycopg.Cursor.execute

    def noted(self, query, *args, **kwargs):
        executed.append(query if isinstance(query, str) else repr(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", noted)
    return executed


def test_postgresql_reads_a_kept_answers_version_without_a_ping(client, played, backend, monkeypatch):
    """The version read is the one statement of a kept answer: no SELECT 1 before it (it tests the connection).
    The thread's first kept answer also sets its reader's statement_timeout from the deadline (one SET)."""
    if backend != "postgresql":
        pytest.skip("the pool pings PostgreSQL connections only")
    assert client.get(ALBUMS).status_code == 200
    assert client.get(ALBUMS).status_code == 200
    executed = _statements(monkeypatch)
    assert client.get(ALBUMS).status_code == 200
    assert executed == [data_version.READ]


def test_postgresql_version_read_survives_a_dead_pooled_connection(app, client, played, backend):
    """Every pooled connection killed under the app (a PostgreSQL restart): the next read answers, right, at once."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL backends to terminate")
    first = client.get(ALBUMS)
    assert first.status_code == 200
    with app.app_context():
        url = database.engine.url
    killer = create_engine(url, poolclass=NullPool)  # a connection of its own, outside the app's pool
    try:
        with killer.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    finally:
        killer.dispose()
    assert killed >= 1
    again = client.get(ALBUMS)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]


def _backends_reading_the_version(url) -> list[int]:
    """Backend pids of the database idle after the version read: the app's per-thread readers (autocommit)."""
    outside = create_engine(url, poolclass=NullPool)
    try:
        with outside.connect() as conn:
            return list(conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle' "
                "AND query = :read"), {"read": data_version.READ}).scalars())
    finally:
        outside.dispose()


def test_postgresql_version_reader_killed_then_a_new_one_answers_and_sees_the_next_write(app, client, auth, backend):
    """pg_terminate_backend of the thread's reader (a PostgreSQL restart does the same): the next conditional GET
    reads the version on a new connection, same answer and ETag; a write after it changes the next ETag."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL backends to terminate")
    first = client.get(ALBUMS)
    assert client.get(ALBUMS).headers["ETag"] == first.headers["ETag"]  # kept: read on the thread's reader
    with app.app_context():
        url = database.engine.url
    [reader] = _backends_reading_the_version(url)
    killer = create_engine(url, poolclass=NullPool)
    try:
        with killer.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": reader}).scalar() is True
    finally:
        killer.dispose()
    again = client.get(ALBUMS)
    assert (again.status_code, again.headers["ETag"], again.get_json()) == (
        200, first.headers["ETag"], first.get_json())
    [new_reader] = _backends_reading_the_version(url)
    assert new_reader != reader
    assert client.post(ALBUMS, json={"title": "Dummy", "artists": ["Portishead"]}, headers=auth).status_code == 201
    after = client.get(ALBUMS)
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
    assert ([album["title"] for album in first.get_json()["items"]],
            [album["title"] for album in after.get_json()["items"]]) == ([], ["Dummy"])
    assert _backends_reading_the_version(url) == [new_reader]  # the read after the write: the same reader


def test_a_forked_process_reads_the_version_on_a_connection_of_its_own(app, client, played, backend):
    """A gunicorn worker forked from a process whose thread had a reader: the child opens its own and never closes
    (nor reads on) its parent's, whose backend is the same after the child has read and exited."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL connections")
    client.get(ALBUMS)
    kept = client.get(ALBUMS)
    with app.app_context():
        url = database.engine.url
    [parent_reader] = _backends_reading_the_version(url)
    readable, writable = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and leaves without pytest's teardown
        try:
            with app.app_context():
                version = data_version.current()
            readers = _backends_reading_the_version(url)  # the parent's and the child's own
            os.write(writable, f"{version} {len(readers)} {parent_reader in readers}".encode())
        finally:
            os._exit(0)
    os.close(writable)
    os.waitpid(child, 0)
    with os.fdopen(readable) as pipe:
        in_child, readers_seen, parents_seen = pipe.read().split()
    assert (in_child.count("."), readers_seen, parents_seen) == (2, "2", "True")
    again = client.get(ALBUMS)
    assert again.headers["ETag"] == kept.headers["ETag"]
    with app.app_context():
        assert data_version.current() == in_child
    assert parent_reader in _backends_reading_the_version(url)


def test_a_thread_that_ends_or_an_engine_disposed_closes_its_version_reader(app, client, played, backend):
    """Nothing left open: the reader of a thread that has ended is closed with it (no psycopg ResourceWarning, its
    backend gone), and engine.dispose() closes the disposing thread's (the gunicorn master forks no socket)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL connections")
    with app.app_context():
        url = database.engine.url
        read: list[str | None] = []

        def in_a_thread():
            with app.app_context():
                read.append(data_version.current())

        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            thread = threading.Thread(target=in_a_thread)
            thread.start()
            thread.join()
            del thread
            gc.collect()
        assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []
        assert read[0] is not None
        poll(lambda: _backends_reading_the_version(url) == [], 10, "the ended thread's reader closed")
        assert data_version.current() == read[0]
        assert len(_backends_reading_the_version(url)) == 1
        database.engine.dispose()
        poll(lambda: _backends_reading_the_version(url) == [], 10, "the disposing thread's reader closed")
        assert data_version.current() == read[0]  # a new reader, for the new pool
