"""The hot reads built without marshmallow (aime/schemas/wire.py) answer byte for byte what the schemas' dump did."""
from __future__ import annotations

import pytest
from flask import jsonify

from aime.config import current_config
from aime.schemas import wire
from aime.schemas.collection import AlbumDetailSchema, AlbumPageSchema
from aime.schemas.history import JournalPageSchema
from aime.services import collection, history
from tests.factories import add_listen, create_album

FULL = {"year": 1997, "support": "Vinyle", "genre": "Electronic", "labels": ["One Little Indian", "Élektra"],
        "catalog_number": "TPLP 71", "discogs_id": 4242, "spotify_url": "https://open.spotify.com/album/x",
        "discogs_url": "https://www.discogs.com/release/4242", "apple_music_url": "https://music.apple.com/a/1",
        "image_url": "https://img.example/homogenic.jpg", "ai_description": "Strings, beats and \"ice\" — ♪"}


@pytest.fixture
def library(client, auth):
    """Albums with every field set, with none set, two credited artists and a track taken off the record;
    plays with and without album, one loved, at instants on both sides of midnight in several zones."""
    full = create_album(client, auth, "Homogenic", ["Björk", "Mark Bell"], tracks=[
        {"title": "Hunter", "track_number": 1, "duration_seconds": 255}, {"title": "Jóga"},
        {"title": "Bachelorette", "duration_seconds": 312}], **FULL)
    bare = create_album(client, auth, "Untitled", ["Ø"])
    create_album(client, auth, "Vespertine", ["Björk"], year=2001, labels=[])
    add_listen(client, auth, "Björk", "Jóga", "2023-11-14T22:13:20Z", album="Homogenic")
    add_listen(client, auth, "Björk", "Bachelorette", "2023-11-14T18:40:00Z", album="Homogenic")
    add_listen(client, auth, "Ø", "Loose track", "2024-03-31T01:30:00Z")  # no album: None fields
    add_listen(client, auth, "Mark Bell", "Solo", "2024-01-01T00:00:00Z", album="Solo works")
    jooga = next(t for t in full["tracks"] if t["title"] == "Jóga")
    assert client.post(f"/api/v1/history/tracks/{jooga['id']}/love", json={"loved": True},
                       headers=auth).status_code == 200
    # Bachelorette was played: taking it off the record keeps it with no track number.
    changed = client.patch(f"/api/v1/collection/albums/{full['id']}", headers=auth, json={"tracks": [
        {"title": "Hunter", "track_number": 1, "duration_seconds": 255}, {"title": "Jóga"}]})
    assert changed.status_code == 200
    assert [t["track_number"] for t in changed.get_json()["tracks"]].count(None) == 1
    return {"full": full["id"], "bare": bare["id"]}


def _same(response, expected) -> None:
    assert response.status_code == 200
    assert response.mimetype == expected.mimetype == "application/json"
    assert response.data == expected.data  # byte for byte: keys, order, escapes, None, dates


# The unfiltered lists (every sort, pages) come from aime/services/hot_reads.py's SQL, the filtered ones from the
# services' selects: both against the ORM + schema dump.
ALBUM_QUERIES = ["", "?sort=-year", "?sort=artist&page_size=2", "?sort=-artist&page=2&page_size=2",
                 "?search=bjork", "?support=vinyle", "?year=1997", "?page=9", "?sort=year", "?sort=-title",
                 "?sort=created&page_size=2", "?sort=-created&page=2&page_size=1", "?sort=artist",
                 "?sort=-artist", "?sort=-year&page=2&page_size=2"]


@pytest.mark.parametrize("query", ALBUM_QUERIES)
def test_the_album_list_is_the_schema_dump_byte_for_byte(app, client, library, query):
    response = client.get(f"/api/v1/collection/albums{query}")
    with app.test_request_context(f"/api/v1/collection/albums{query}"):
        args = _album_args(query)
        expected = jsonify(AlbumPageSchema().dump(collection.list_albums(**args)))
    _same(response, expected)
    if query == "":
        items = response.get_json()["items"]
        assert [a["title"] for a in items] == ["Homogenic", "Untitled", "Vespertine"]
        assert items[1]["labels"] == [] and items[1]["year"] is None and items[1]["discogs_id"] is None
        assert [a["name"] for a in items[0]["artists"]] == ["Björk", "Mark Bell"]
        assert items[0]["created_at"].endswith("Z")


def _album_args(query: str) -> dict:
    from aime.schemas.collection import AlbumQuerySchema
    pairs = dict(part.split("=") for part in query.lstrip("?").split("&") if part)
    return AlbumQuerySchema().load(pairs)


@pytest.mark.parametrize("which", ["full", "bare"])
def test_album_detail_is_the_schema_dump_byte_for_byte(app, client, library, which):
    album_id = library[which]
    response = client.get(f"/api/v1/collection/albums/{album_id}")
    with app.app_context():
        expected = jsonify(AlbumDetailSchema().dump(collection.album_detail(album_id)))
    _same(response, expected)
    body = response.get_json()
    if which == "full":
        assert body["play_count"] == 2 and body["last_played"] == "2023-11-14T22:13:20Z"
        assert [(t["title"], t["track_number"], t["loved"]) for t in body["tracks"]] in (
            [("Bachelorette", None, False), ("Hunter", 1, False), ("Jóga", 2, True)],  # SQLite: NULL first
            [("Hunter", 1, False), ("Jóga", 2, True), ("Bachelorette", None, False)])  # PostgreSQL: NULL last
    else:
        assert (body["play_count"], body["last_played"], body["tracks"], body["labels"]) == (0, None, [], [])


JOURNAL_QUERIES = ["", "?page=1&page_size=50", "?page_size=2&page=2", "?loved=true", "?artist=bjork",
                   "?album=homo", "?source=manual", "?start_date=2023-11-15&end_date=2023-11-15&tz=Asia/Kolkata",
                   "?start_date=2024-03-31&tz=Europe/Paris", "?end_date=2023-12-31&tz=America/St_Johns",
                   "?page=40", "?page_size=1", "?page_size=1&page=4", "?page_size=3&page=2", "?page=2",
                   "?tz=Europe/Paris"]


@pytest.mark.parametrize("query", JOURNAL_QUERIES)
def test_journal_pages_are_the_schema_dump_byte_for_byte(app, client, library, query):
    from aime.schemas.history import JournalQuerySchema
    response = client.get(f"/api/v1/history/tracks{query}")
    pairs = dict(part.split("=") for part in query.lstrip("?").split("&") if part)
    with app.app_context():
        page = history.journal(current_config(), **JournalQuerySchema().load(pairs))
        expected = jsonify(JournalPageSchema().dump(page))
        assert wire.journal_page(page) == JournalPageSchema().dump(page)  # field for field too
    _same(response, expected)


def test_the_journal_shows_none_for_a_play_without_album(client, library):
    items = client.get("/api/v1/history/tracks?artist=%C3%98").get_json()["items"]
    assert items == [{"id": items[0]["id"], "played_at": "2024-03-31T01:30:00Z", "artist": "Ø",
                      "title": "Loose track", "album": None, "album_id": None, "track_id": items[0]["track_id"],
                      "year": None, "loved": False, "source": "manual", "album_image": None}]


def test_wire_functions_equal_the_schemas_field_for_field(app, library):
    with app.app_context():
        detail = collection.album_detail_row(library["full"])
        assert wire.album_detail(detail) == AlbumDetailSchema().dump(detail)
        page = collection.album_rows_page(page_size=30)
        assert wire.album_page(page) == AlbumPageSchema().dump(page)
        # The row functions hold what the ORM functions held (artists and tracks as plain values).
        orm = AlbumDetailSchema().dump(collection.album_detail(library["full"]))
        assert AlbumDetailSchema().dump(detail) == orm
