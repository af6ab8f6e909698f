"""The journal's total stays exact under every writer without counting the whole table each time (listen_totals)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from aime.services.answer_memo import BoundedLru
from tests.api.test_conditional import Statements
from tests.factories import add_listen, create_album

JOURNAL = "/api/v1/history/tracks"
FILTERS = ["", "?loved=true", "?artist=bjork", "?start_date=2023-11-15&tz=Asia/Kolkata", "?source=raw"]


def _totals(client) -> list[int]:
    return [client.get(JOURNAL + query).get_json()["total"] for query in FILTERS]


def _recount(db) -> list[int]:
    """The same totals counted from the listens, by hand-written SQL."""
    def count(where: str = "") -> int:
        return db.session.execute(sa.text(
            "SELECT count(*) FROM listens l JOIN tracks t ON t.id = l.track_id JOIN artists a ON a.id = t.artist_id "
            + where)).scalar()
    # 2023-11-15 00:00 in Asia/Kolkata (+05:30) is 2023-11-14T18:30:00Z = 1699986600.
    values = [count(), count("WHERE t.loved = true"), count("WHERE a.name_key LIKE '%bjork%'"),
              count("WHERE l.played_at >= 1699986600"), count("WHERE l.source = 'raw'")]
    db.session.rollback()
    return values


@pytest.fixture
def history(client, auth):
    """Three plays: two by Björk (one before, one after 2023-11-15 in Kolkata), one by Portishead."""
    made = create_album(client, auth, "Homogenic", ["Björk"], tracks=[{"title": "Hunter"}, {"title": "Jóga"}])
    add_listen(client, auth, "Björk", "Hunter", "2023-11-14T18:00:00Z", album="Homogenic")
    add_listen(client, auth, "Björk", "Jóga", "2023-11-14T22:13:20Z", album="Homogenic")
    add_listen(client, auth, "Portishead", "Roads", "2023-11-10T21:00:00Z")
    return made


def _raw(db, statement: str, **params) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def test_totals_stay_exact_through_every_kind_of_write(db, client, auth, history):
    assert _totals(client) == _recount(db) == [3, 0, 2, 1, 0]
    add_listen(client, auth, "Björk", "Hunter", "2023-11-20T10:00:00Z", album="Homogenic")  # the API
    assert _totals(client) == _recount(db) == [4, 0, 3, 2, 0]
    played = client.post(f"/api/v1/history/albums/{history['id']}/listen", headers=auth,
                         json={"started_at": "2023-12-01T20:00:00Z"})  # a whole record
    assert played.status_code == 201
    assert _totals(client) == _recount(db) == [6, 0, 5, 4, 0]
    # SQL by hand: a batch insert, an update moving plays across the date filter, a love, a delete.
    _raw(db, "INSERT INTO listens (track_id, played_at, source, created_at) "
             "SELECT id, 1600000000 + id, 'raw', 0 FROM tracks")
    assert _totals(client) == _recount(db) == [9, 0, 7, 4, 3]
    _raw(db, "UPDATE listens SET played_at = played_at + 200000000 WHERE source = 'raw'")
    assert _totals(client) == _recount(db) == [9, 0, 7, 7, 3]
    jooga = next(t["id"] for t in history["tracks"] if t["title"] == "Jóga")
    assert client.post(f"/api/v1/history/tracks/{jooga}/love", json={"loved": True}, headers=auth).status_code == 200
    assert _totals(client) == _recount(db) == [9, 3, 7, 7, 3]
    _raw(db, "DELETE FROM listens WHERE source = 'raw'")
    assert _totals(client) == _recount(db) == [6, 2, 5, 4, 0]
    _raw(db, "UPDATE artists SET name_key = 'someone else' WHERE name = 'Björk'")  # the catalogue
    assert _totals(client) == _recount(db) == [6, 2, 0, 4, 0]


def test_a_rolled_back_write_counts_nothing(db, client, history):
    assert _totals(client) == [3, 0, 2, 1, 0]
    db.session.execute(sa.text("INSERT INTO listens (track_id, played_at, source, created_at) "
                               "SELECT id, 1600000000 + id, 'raw', 0 FROM tracks"))
    db.session.rollback()
    assert _totals(client) == _recount(db) == [3, 0, 2, 1, 0]


def test_sqlite_counts_only_the_plays_added_since_the_last_read(app, db, client, auth, history):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the per-worker memo is SQLite's (PostgreSQL keeps the count in data_version)")
    client.get(JOURNAL)
    add_listen(client, auth, "Björk", "Hunter", "2023-11-20T10:00:00Z", album="Homogenic")
    with Statements(db.engine) as seen:
        assert client.get(JOURNAL).get_json()["total"] == 4
    counts = [s for s in seen.seen if "count(*)" in s]
    assert len(counts) == 1 and "listens.id >" in counts[0]


def test_postgresql_reads_the_stored_count_and_counts_nothing(app, db, client, auth, history):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL keeps the count in data_version (migration 0019)")
    with Statements(db.engine) as seen:
        assert client.get(JOURNAL).get_json()["total"] == 3
    assert not [s for s in seen.seen if "count(*)" in s]
    assert client.get(JOURNAL + "?source=raw").get_json()["total"] == 0  # a filter is counted as before


def test_postgresql_count_follows_savepoints_and_truncate(app, db, client, history):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL keeps the count in data_version (migration 0019)")

    def stored():
        value = db.session.execute(sa.text("SELECT listen_count FROM data_version")).scalar()
        db.session.rollback()
        return value

    assert stored() == 3
    with db.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("INSERT INTO listens (track_id, played_at, source, created_at) "
                             "SELECT id, 1600000000 + id, 'raw', 0 FROM tracks"))  # 3 tracks: +3
        savepoint = conn.begin_nested()
        conn.execute(sa.text("DELETE FROM listens"))  # undone with its savepoint
        savepoint.rollback()
        conn.execute(sa.text("DELETE FROM listens WHERE source = 'raw' AND played_at = "
                             "(SELECT min(played_at) FROM listens WHERE source = 'raw')"))  # -1
    assert stored() == 5 and client.get(JOURNAL).get_json()["total"] == 5 == _recount(db)[0]
    try:
        _raw(db, "TRUNCATE listens CASCADE")
        assert stored() is None  # unknown: readers count the table
        assert client.get(JOURNAL).get_json()["total"] == 0
        with db.engine.begin() as conn:  # later commits leave it unknown (never wrong)
            conn.execute(sa.text("INSERT INTO listens (track_id, played_at, source, created_at) "
                                 "SELECT id, 1600000000 + id, 'raw', 0 FROM tracks"))
        assert stored() is None and client.get(JOURNAL).get_json()["total"] == 3
    finally:  # the session's other tests share this database: give it its count back
        _raw(db, "UPDATE data_version SET listen_count = (SELECT count(*) FROM listens)")


def test_the_memo_is_bounded():
    memo = BoundedLru(max_entries=2)
    for key in ("a", "b", "c"):
        memo.put(key, (key,))
    assert (memo.get("a"), memo.get("b"), memo.get("c")) == (None, ("b",), ("c",))
    memo.get("b")  # now the most recently used: "c" goes first
    memo.put("d", ("d",))
    assert (memo.get("b"), memo.get("c"), memo.get("d")) == (("b",), None, ("d",))


def test_an_import_job_is_counted(app, db, client, history):
    from pathlib import Path

    from aime.jobs import imports

    samples = Path(__file__).resolve().parents[3] / "shared" / "samples"
    samples = samples if samples.is_dir() else Path("/work/shared/samples")
    assert _totals(client) == [3, 0, 2, 1, 0]
    job_id = imports.create_file_job(samples / "recenttracks-alice-1700000000.csv", None)
    assert imports.run_job(job_id)["imported"] == 10  # the importer's own cursors (COPY on PostgreSQL)
    db.session.rollback()
    totals = _totals(client)
    assert totals[0] == 13 and totals == _recount(db)
