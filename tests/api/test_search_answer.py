"""The search answer, built from rows without schema dumps, is byte for byte the ORM + SearchResultSchema answer."""
from __future__ import annotations

import pytest
from flask import jsonify
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from aime.extensions import db
from aime.models import Album, Artist, Track
from aime.schemas.collection import SearchResultSchema
from aime.services.catalog import contains
from tests.factories import add_listen, create_album


def _reference(q: str, kind: str | None, limit: int) -> bytes:
    """The answer as search built it before: ORM objects of a LIKE scan in the same order, dumped by the schema."""
    pattern = contains(q)
    result: dict = {"query": q, "albums": [], "artists": [], "tracks": []}
    if kind in (None, "album"):
        result["albums"] = list(db.session.scalars(
            select(Album).options(lazyload(Album.tracks)).where(Album.title_key.like(pattern, escape="\\"))
            .order_by(Album.in_collection.desc(), Album.title_key, Album.id).limit(limit)))
    if kind in (None, "artist"):
        result["artists"] = list(db.session.scalars(
            select(Artist).where(Artist.name_key.like(pattern, escape="\\")).order_by(Artist.name_key).limit(limit)))
    if kind in (None, "track"):
        rows = db.session.execute(
            select(Track.id, Track.title, Artist.name.label("artist"), Album.title.label("album"),
                   Album.id.label("album_id"))
            .join(Artist, Artist.id == Track.artist_id).outerjoin(Album, Album.id == Track.album_id)
            .where(Track.title_key.like(pattern, escape="\\")).order_by(Track.title_key, Track.id).limit(limit)).all()
        result["tracks"] = [row._asdict() for row in rows]
    return jsonify(SearchResultSchema().dump(result)).get_data()


@pytest.mark.parametrize(("q", "kind", "limit"), [
    ("o", None, 20), ("o", None, 2), ("HOM", None, 20), ("björk", None, 20), ("e", "album", 3),
    ("ogen", "album", 20), ("ead", "artist", 20), ("oad", "track", 20), ("ö", None, 20), ("zzqx", None, 20),
    ("o", "track", 1), ("100%", None, 20), ("ti", None, 20)])
def test_search_answer_equals_the_schema_dump_of_before(app, client, auth, q, kind, limit):
    # Every album field set on one, none on another; two credited artists in a non-alphabetical order; an album
    # known only from history (not owned, no year); a loose track (no album); accents, a wildcard in a title.
    create_album(client, auth, "Homogenic", ["Björk", "Mark Bell"], year=1997, support="Vinyle", genre="Electronic",
                 labels=["One Little Indian", "Elektra"], catalog_number="TPLP71", discogs_id=4242,
                 spotify_url="https://open.spotify.com/album/h", discogs_url="https://www.discogs.com/release/4242",
                 apple_music_url="https://music.apple.com/album/h", image_url="https://img.example/h.jpg",
                 ai_description="Strings and beats.", tracks=[{"title": "Jóga", "duration_seconds": 305},
                                                              {"title": "Hunter", "track_number": 1}])
    create_album(client, auth, "Homogenic Live", ["Zed", "Björk"])
    create_album(client, auth, "Live_at 100%", ["Radiohead"], support="CD")
    add_listen(client, auth, "Portishead", "Roads", "2024-01-01T00:00:00Z", album="Dummy")
    add_listen(client, auth, "Sigur Rós", "Hoppípolla", "2024-01-02T00:00:00Z")
    response = client.get("/api/v1/search", query_string={"q": q, "limit": limit, **({"type": kind} if kind else {})})
    assert response.status_code == 200
    with app.app_context():
        expected = _reference(q, kind, limit)
    assert response.get_data() == expected
    assert response.get_json()["query"] == q


def test_the_answer_lists_album_artists_in_credited_order(client, auth):
    create_album(client, auth, "Homogenic Live", ["Zed", "Björk", "Anna"])
    albums = client.get("/api/v1/search?q=homogenic&type=album").get_json()["albums"]
    assert [a["name"] for a in albums[0]["artists"]] == ["Zed", "Björk", "Anna"]
    assert albums[0]["labels"] == [] and albums[0]["in_collection"] is True and albums[0]["year"] is None
