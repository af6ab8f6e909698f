"""Conditional GETs of the hot reads: ETag per data version, 304 without work, every write seen by the next read."""
from __future__ import annotations

import shutil
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from aime.api.conditional import CACHE_CONTROL, ResponseCache, Stored
from aime.flask_app import AimeResponse
from aime.services import data_version
from tests.factories import add_listen, create_album

PLAYED = "2023-11-14T22:13:20Z"
LATER = "2023-11-14T22:23:20Z"


@pytest.fixture
def album(client, auth):
    """An owned album with two tracks, one of them played once."""
    made = create_album(client, auth, "Homogenic", ["Björk"], tracks=[{"title": "Hunter"}, {"title": "Jóga"}])
    add_listen(client, auth, "Björk", "Hunter", PLAYED, album="Homogenic")
    return made


def _paths(album: dict) -> list[str]:
    return [f"/api/v1/collection/albums/{album['id']}", "/api/v1/collection/albums",
            "/api/v1/history/tracks?page=1&page_size=50", "/api/v1/search?q=hunt",
            f"/api/v1/collection/artists/{album['artists'][0]['id']}", "/api/v1/collection/artists",
            "/api/v1/collection/stats"]


class Statements:
    """Counts the SQL statements the app sends while active."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._note)

    def _note(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(statement)


def test_each_hot_read_carries_an_etag_and_answers_304_with_an_empty_body(client, album):
    for path in _paths(album):
        first = client.get(path)
        assert first.status_code == 200, path
        assert first.headers["Cache-Control"] == CACHE_CONTROL
        etag = first.headers["ETag"]
        assert len(etag) == 26 and etag.startswith('"') and etag.endswith('"')  # 24 hex digits, quoted
        again = client.get(path, headers={"If-None-Match": etag})
        assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", etag), path
        assert again.headers["Cache-Control"] == CACHE_CONTROL
        # Another URL's ETag, or a list holding the right one among others.
        assert client.get(path, headers={"If-None-Match": '"0000"'}).status_code == 200
        assert client.get(path, headers={"If-None-Match": f'"0000", {etag}'}).status_code == 304


def test_etags_differ_between_urls(client, album):
    etags = {client.get(path).headers["ETag"] for path in _paths(album)}
    assert len(etags) == 7


def test_a_new_play_changes_the_answer_and_the_etag(client, auth, album):
    path = f"/api/v1/collection/albums/{album['id']}"
    first = client.get(path)
    assert first.get_json()["play_count"] == 1
    add_listen(client, auth, "Björk", "Jóga", LATER, album="Homogenic")
    second = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert second.get_json()["play_count"] == 2
    assert second.headers["ETag"] != first.headers["ETag"]
    journal = client.get("/api/v1/history/tracks").get_json()
    assert [item["title"] for item in journal["items"]] == ["Jóga", "Hunter"]


def test_an_artists_page_and_the_collection_totals_see_the_next_play_and_edit(client, auth, album):
    """The artist page, the artists list and the collection totals are kept per data version too: a play, an
    edit or a new album is in the next answer, with a new ETag."""
    artist = f"/api/v1/collection/artists/{album['artists'][0]['id']}"
    first = client.get(artist)
    assert (first.get_json()["play_count"], [a["year"] for a in first.get_json()["albums_owned"]]) == (1, [None])
    assert client.get(artist, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    add_listen(client, auth, "Björk", "Jóga", LATER, album="Homogenic")
    second = client.get(artist, headers={"If-None-Match": first.headers["ETag"]})
    assert (second.status_code, second.get_json()["play_count"]) == (200, 2)
    assert [t["title"] for t in second.get_json()["top_tracks"]] == ["Hunter", "Jóga"]
    edited = client.patch(f"/api/v1/collection/albums/{album['id']}", json={"year": 1997}, headers=auth)
    assert edited.status_code == 200
    assert [a["year"] for a in client.get(artist).get_json()["albums_owned"]] == [1997]
    assert client.get("/api/v1/collection/stats").get_json()["by_decade"] == {"1990s": 1}
    assert [a["name"] for a in client.get("/api/v1/collection/artists").get_json()["items"]] == ["Björk"]
    create_album(client, auth, "Debut", ["Björk"])
    create_album(client, auth, "Dummy", ["Portishead"])
    assert [a["name"] for a in client.get("/api/v1/collection/artists").get_json()["items"]] == ["Björk", "Portishead"]
    assert client.get("/api/v1/collection/stats").get_json()["by_decade"] == {"1990s": 1, "unknown": 2}


def test_catalogue_edits_and_loves_are_seen_by_the_next_read(client, auth, album):
    path = f"/api/v1/collection/albums/{album['id']}"
    assert client.get(path).get_json()["year"] is None
    assert client.patch(path, json={"year": 1997}, headers=auth).status_code == 200
    assert client.get(path).get_json()["year"] == 1997
    track_id = album["tracks"][0]["id"]
    assert client.post(f"/api/v1/history/tracks/{track_id}/love", json={"loved": True}, headers=auth).status_code == 200
    assert [t["loved"] for t in client.get(path).get_json()["tracks"]] == [True, False]
    assert client.get("/api/v1/history/tracks").get_json()["items"][0]["loved"] is True
    assert client.delete(path, headers=auth).status_code == 204
    assert client.get(path).status_code == 404
    assert client.get("/api/v1/collection/albums").get_json()["total"] == 0


def test_a_repeated_read_or_a_304_runs_no_query_of_the_view(app, db, client, album):
    path = f"/api/v1/collection/albums/{album['id']}"
    with Statements(db.engine) as computed:
        first = client.get(path)
    assert any("FROM albums" in s for s in computed.seen)
    with Statements(db.engine) as cached:
        second = client.get(path)
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    # Only the data version was read (on a raw pooled connection: SQLAlchemy sees no statement at all).
    assert cached.seen == []
    with Statements(db.engine) as revalidated:
        assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert revalidated.seen == []


def test_errors_carry_no_etag_and_are_not_kept(client, album):
    missing = client.get("/api/v1/collection/albums/999999")
    assert missing.status_code == 404 and "ETag" not in missing.headers
    bad = client.get("/api/v1/history/tracks?page=0")
    assert bad.status_code == 422 and "ETag" not in bad.headers
    # "*" would also match an album that does not exist: it is not honoured.
    assert client.get("/api/v1/collection/albums/999999", headers={"If-None-Match": "*"}).status_code == 404


def _version(db) -> str:
    db.session.rollback()  # a fresh read transaction
    return data_version.current()


@pytest.mark.parametrize("statement", [
    "INSERT INTO artists (name, name_key, created_at) VALUES ('Low', 'low', 0)",
    "UPDATE albums SET genre = 'Electronic'",
    "UPDATE tracks SET loved = true",
    "DELETE FROM album_artists",
    "UPDATE listens SET source = 'manual'",
    "DELETE FROM listens",
    "INSERT INTO listens (track_id, played_at, source, created_at) SELECT id, 1, 'raw', 0 FROM tracks LIMIT 1",
])
def test_every_writer_changes_the_version_even_raw_sql(db, album, statement):
    before = _version(db)
    db.session.execute(sa.text(statement))
    db.session.commit()
    assert _version(db) != before


def test_a_rolled_back_write_leaves_the_version(db, album):
    before = _version(db)
    db.session.execute(sa.text("UPDATE albums SET genre = 'Electronic'"))
    db.session.rollback()
    assert _version(db) == before


def test_a_read_changes_nothing(db, client, album):
    before = _version(db)
    for path in _paths(album):
        client.get(path)
    assert _version(db) == before


def test_the_cache_is_bounded_and_keeps_one_version_per_url():
    cache = ResponseCache(max_entries=2, max_total_bytes=10)
    cache.put("/a", Stored("v1", b"aaaa", ()))
    assert cache.get("/a", "v1").body == b"aaaa" and cache.get("/a", "v2") is None
    cache.put("/a", Stored("v2", b"AAAA", ()))
    assert cache.get("/a", "v1") is None and cache.get("/a", "v2").body == b"AAAA"
    cache.put("/b", Stored("v2", b"bbbb", ()))
    cache.put("/c", Stored("v2", b"cccc", ()))  # three entries: the least recently used (/a) goes
    assert (cache.get("/a", "v2"), cache.get("/b", "v2").body, cache.get("/c", "v2").body) == (None, b"bbbb", b"cccc")
    cache.put("/d", Stored("v2", b"dddddddd", ()))  # 12 bytes with /c: over 10, so /b and /c go
    assert (cache.get("/b", "v2"), cache.get("/c", "v2"), cache.get("/d", "v2").body) == (None, None, b"dddddddd")


def test_a_kept_answers_headers_are_validated_once_and_sent_as_they_are():
    stored = Stored("v1", b"{}", (("Content-Type", "application/json"), ("Content-Length", "2"),
                                  ("ETag", '"old"'), ("Cache-Control", "no-store"), ("X-Thing", "1")))
    assert stored.served("abc") == (("Content-Type", "application/json"), ("Content-Length", "2"),
                                    ("X-Thing", "1"), ("ETag", '"abc"'), ("Cache-Control", CACHE_CONTROL))
    response = AimeResponse.kept(stored.body, stored.served("abc"))
    assert list(response.headers) == list(stored.served("abc")) and response.get_data() == b"{}"
    assert response.status == "200 OK"
    response.headers["X-Request-ID"] = "r1"  # the after-request hooks change the response's headers, not the kept
    assert ("X-Request-ID", "r1") not in stored.served("abc")
    # A pair read from another worker's file that werkzeug would refuse is refused before any response takes it.
    with pytest.raises(ValueError, match="newline"):
        Stored("v1", b"{}", (("X-Bad", "a\r\nSet-Cookie: x=1"),)).served("abc")


@pytest.mark.backend_independent
def test_openapi_documents_the_304(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/collection/albums/{album_id}", "/api/v1/collection/albums", "/api/v1/history/tracks",
                 "/api/v1/search"):
        assert "304" in spec["paths"][path]["get"]["responses"], path
    assert "304" not in spec["paths"]["/api/v1/collection/albums"]["post"]["responses"]


def test_a_restore_gives_the_data_a_new_epoch(make_app, tmp_path):
    """After backup, N writes, restore, N writes, the version could repeat with other data; the epoch cannot."""
    app = make_app()
    client, runner = app.test_client(), app.test_cli_runner()
    headers = {"Authorization": "Bearer " + app.extensions["aime.config"].api_token}
    backup = tmp_path / "b.db"
    assert runner.invoke(args=["backup", "--output", str(backup)]).exit_code == 0
    add_listen(client, headers, "Air", "La Femme d'Argent", PLAYED)
    before = client.get("/api/v1/history/tracks")
    assert runner.invoke(args=["restore", str(backup), "--force"]).exit_code == 0
    add_listen(client, headers, "Air", "Kelly Watch the Stars", PLAYED)  # the same count of writes again
    after = client.get("/api/v1/history/tracks", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert [item["title"] for item in after.get_json()["items"]] == ["Kelly Watch the Stars"]


def test_a_sqlite_file_replaced_under_the_app_is_read_at_once_never_its_old_copy(make_app, tmp_path):
    """A backup copied over the database file (the operator's restore): the next version read and the next answer
    come from the file that is there now, not from a connection still holding the old, unlinked one."""
    app = make_app()
    client = app.test_client()
    headers = {"Authorization": "Bearer " + app.extensions["aime.config"].api_token}
    database = app.extensions["aime.config"].data_dir / "musique.db"
    add_listen(client, headers, "Air", "La Femme d'Argent", PLAYED)
    with app.app_context():
        at_backup = data_version.current()
    backup = tmp_path / "b.db"
    with sqlite3.connect(database) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    add_listen(client, headers, "Air", "Kelly Watch the Stars", LATER)
    assert [i["title"] for i in client.get("/api/v1/history/tracks").get_json()["items"]] == [
        "Kelly Watch the Stars", "La Femme d'Argent"]  # kept at the newer version
    for stale in database.parent.glob("musique.db*"):
        stale.unlink()
    shutil.copy(backup, database)
    with app.app_context():
        assert data_version.current() == at_backup
    assert [i["title"] for i in client.get("/api/v1/history/tracks").get_json()["items"]] == ["La Femme d'Argent"]


def test_the_version_read_of_a_thread_without_a_connection_creates_no_file_when_the_database_is_gone(make_app):
    """Deleted (not yet restored): a thread that never read the version gets it from the pool as before, and no
    empty database file appears in its place."""
    app = make_app()
    database = app.extensions["aime.config"].data_dir / "musique.db"
    with app.app_context():
        before = data_version.current()  # the pool's connections (and this thread's) hold the file
    for stale in database.parent.glob("musique.db*"):
        stale.unlink()
    seen: list = []

    def read() -> None:
        with app.app_context():
            seen.append(data_version.current())

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == [before] and not database.exists()


def test_threads_asking_the_same_cold_url_build_its_answer_once(app, album, monkeypatch):
    """A cold worker under load: four threads ask the same URL at once, the first build held until the other
    three wait for it (or, without single flight, build it too)."""
    from aime.api import search as search_view
    from aime.api.conditional import response_cache

    real, release, builds = search_view.run_search, threading.Event(), []

    def held(*args):
        builds.append(threading.get_ident())
        if len(builds) == 1:
            assert release.wait(30)
        return real(*args)

    monkeypatch.setattr(search_view, "run_search", held)
    cache = response_cache(app)
    answers = [None] * 4

    def ask(i: int) -> None:
        response = app.test_client().get("/api/v1/search?q=hunt")
        answers[i] = (response.status_code, response.get_json(), response.headers["ETag"])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    threads[0].start()
    _until(lambda: len(builds) == 1)
    for thread in threads[1:]:
        thread.start()
    _until(lambda: getattr(cache, "waits", 0) + len(builds) == 4)  # the others wait for the first build, or build
    release.set()
    for thread in threads:
        thread.join(30)
    assert len(builds) == 1
    expected = {"query": "hunt", "albums": [], "artists": [], "tracks": [
        {"id": album["tracks"][0]["id"], "title": "Hunter", "artist": "Björk", "album": "Homogenic",
         "album_id": album["id"]}]}
    assert [a[:2] for a in answers] == [(200, expected)] * 4
    assert len({a[2] for a in answers}) == 1


def test_when_the_first_build_fails_the_waiting_threads_build_the_answer(app, album, monkeypatch):
    from aime.api import search as search_view
    from aime.api.conditional import response_cache

    real, release, builds = search_view.run_search, threading.Event(), []

    def held(*args):
        builds.append(threading.get_ident())
        if len(builds) == 1:
            assert release.wait(30)
            raise RuntimeError("the first build failed")
        return real(*args)

    monkeypatch.setattr(search_view, "run_search", held)
    cache = response_cache(app)
    statuses = [None] * 3

    def ask(i: int) -> None:
        statuses[i] = app.test_client().get("/api/v1/search?q=hunt").status_code

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    threads[0].start()
    _until(lambda: len(builds) == 1)
    for thread in threads[1:]:
        thread.start()
    _until(lambda: getattr(cache, "waits", 0) + len(builds) == 3)
    release.set()
    for thread in threads:
        thread.join(30)
    assert statuses == [500, 200, 200]
    assert len(builds) in (2, 3)  # the two waiters: one after the other, or at once


def _until(condition) -> None:
    """Wait (up to 30 s) for `condition`, which other threads make true; a synchronisation, not a timing."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the threads did not get there"
        time.sleep(0.005)
