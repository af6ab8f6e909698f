"""Substring search through the FTS5 trigram index (SQLite) and pg_trgm (PostgreSQL): same answers as a scan."""
from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from aime.extensions import db
from aime.services import search_index
from aime.services.search import search
from aime.services.search_index import INDEXED, fts_enabled
from aime.text import normalise
from tests.factories import add_listen, create_album


def index_is_exact(app) -> bool:
    """On SQLite, every FTS table holds exactly (id, key) of its source table; elsewhere there is nothing to check."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return True
        for source, column, fts in INDEXED:
            rows = sorted(db.session.execute(text(f"SELECT id, {column} FROM {source}")).all())
            indexed = sorted(db.session.execute(text(f"SELECT rowid, key FROM {fts}")).all())
            if [tuple(r) for r in rows] != [tuple(r) for r in indexed]:
                return False
    return True


def _found(client, q, kind):
    body = client.get("/api/v1/search", query_string={"q": q, "type": kind}).get_json()
    field = {"album": "albums", "artist": "artists", "track": "tracks"}[kind]
    return [item.get("title") or item.get("name") for item in body[field]]


def test_substrings_anywhere_accent_and_case_insensitive(app, client, auth):
    create_album(client, auth, "Homogenic", ["Björk"], tracks=[{"title": "Jóga"}, {"title": "Hunter"}])
    create_album(client, auth, "Déjà Vu", ["Crosby, Stills, Nash & Young"])
    create_album(client, auth, "Live_at 100%", ["Radiohead"])
    create_album(client, auth, "Emanate", ["Radiohead"])
    create_album(client, auth, 'The "Quoted" One', ["Radiohead"])
    add_listen(client, auth, "Sigur Rós", "Svefn-g-englar", "2024-01-01T00:00:00Z")
    assert _found(client, "OGENI", "album") == ["Homogenic"]
    assert _found(client, "jörk", "artist") == ["Björk"]
    assert _found(client, "EJA V", "album") == ["Déjà Vu"]
    assert _found(client, "G-ENG", "track") == ["Svefn-g-englar"]
    assert _found(client, "unte", "track") == ["Hunter"]
    # Wildcards and FTS5 query syntax are plain characters: "e_a" is not e-any-a (Emanate), quotes are literal.
    assert _found(client, "t 100%", "album") == ["Live_at 100%"]
    assert _found(client, "e_a", "album") == ["Live_at 100%"]
    assert _found(client, '"quoted"', "album") == ['The "Quoted" One']
    assert _found(client, "NEAR(", "album") == [] and _found(client, "ote*", "album") == []
    # One and two characters: the scan of before (a trigram index cannot answer them), same order as before.
    assert _found(client, "ós", "artist") == ["Crosby, Stills, Nash & Young", "Sigur Rós"]
    assert _found(client, "J", "track") == ["Jóga"]
    assert index_is_exact(app)
    with app.app_context():  # the 3+ character queries above were answered by the index on SQLite
        assert fts_enabled() is (db.engine.dialect.name == "sqlite")


def test_album_edit_delete_and_track_changes_keep_the_index_exact(app, client, auth):
    album = create_album(client, auth, "Homogenic", ["Björk"], tracks=[{"title": "Jóga"}])
    assert client.patch(f"/api/v1/collection/albums/{album['id']}", json={"title": "Vespertine"},
                        headers=auth).status_code == 200
    assert _found(client, "ogeni", "album") == [] and _found(client, "SPERT", "album") == ["Vespertine"]
    assert index_is_exact(app)
    assert client.delete(f"/api/v1/collection/albums/{album['id']}", headers=auth).status_code == 204
    assert _found(client, "spert", "album") == []
    assert index_is_exact(app)


def test_a_sqlite_without_fts5_trigram_falls_back_to_the_scan_and_says_so(backend, app, client, auth, monkeypatch,
                                                                          caplog):
    if backend != "sqlite":
        pytest.skip("FTS5 is SQLite's")
    from flask_migrate import downgrade, upgrade

    from aime.services import search_index

    create_album(client, auth, "Homogenic", ["Björk"])
    monkeypatch.setattr(search_index, "sqlite_trigram_available", lambda connection: False)
    with caplog.at_level(logging.WARNING), app.app_context():
        downgrade(revision="0008")
        upgrade()
        names = {r[0] for r in db.session.execute(text("SELECT name FROM sqlite_master WHERE name LIKE 'fts%'"))}
    assert names == set()
    assert "has no FTS5 trigram tokenizer" in caplog.text
    fresh = app.test_client()
    assert _found(fresh, "OGENI", "album") == ["Homogenic"]
    assert "FTS5 trigram tables missing" in caplog.text


_CHARS = list("abcABéÉèöÖßİı -_%\"'*().:^\\")
_SYLLABLES = ["ab", "Ab", "bé", "é", "e", "ö", "ß", "ss", "İ", "i", " ", "-", "%", "_", '"', "*", "\\", "(", "x"]
_chunk = st.lists(st.sampled_from(_SYLLABLES), max_size=4).map("".join)
_queries = st.one_of(st.text(alphabet=_CHARS, min_size=1, max_size=5),
                     st.lists(st.sampled_from(_SYLLABLES), min_size=2, max_size=3).map("".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), query=_queries, limit=st.integers(1, 8), probe_rows=st.integers(1, 20))
def test_index_answers_equal_a_brute_force_scan(app, data, query, limit, probe_rows):
    """Random names (many holding the query, in any case or accent), queries, page sizes and probe windows."""
    variant = st.sampled_from([query, query.upper(), query.lower(), query.replace("e", "É")])
    names = data.draw(st.lists(st.tuples(_chunk, st.one_of(st.just(""), variant), _chunk).map("".join),
                               min_size=1, max_size=40))
    keyed = {normalise(n): n for n in names if normalise(n)}
    with app.app_context():
        db.session.execute(text("DELETE FROM artists"))  # the delete trigger empties the index too
        for i, (key, name) in enumerate(keyed.items(), start=1):
            db.session.execute(text("INSERT INTO artists (id, name, name_key, created_at) VALUES (:i, :n, :k, 0)"),
                               {"i": i, "n": name, "k": key})
        db.session.commit()
        original, search_index.PROBE_ROWS = search_index.PROBE_ROWS, probe_rows  # a window smaller than the table
        try:
            found = [a["name"] for a in search(query, "artist", limit=limit)["artists"]]
            everything = [a["name"] for a in search(query, "artist", limit=100)["artists"]]
        finally:
            search_index.PROBE_ROWS = original
        dialect = db.engine.dialect.name
    wanted = [keyed[k] for k in sorted(keyed) if normalise(query) in k]
    assert sorted(everything) == sorted(wanted) and len(found) == min(limit, len(wanted))
    if dialect == "sqlite":  # binary collation orders like Python; PostgreSQL's depends on the database locale
        assert found == wanted[:limit] and everything == wanted
    assert index_is_exact(app)
