"""One home for an album's MusicBrainz release id (albums.release_mbid): a ListenBrainz import fills it, enrichment
uses it to go straight to the Cover Art Archive, and a different id found later is reported, never written."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from aime.extensions import db
from aime.models import Album
from aime.jobs import imports
from tests.covers import fakes
from tests.covers.conftest import image_bytes
from tests.covers.test_enrichment import World, enrich

RELEASE_COVER = image_bytes("JPEG", (400, 400), (240, 200, 10))  # unlike every other fake image
OTHER_RELEASE = "0f3c3b1a-2222-4a4a-8b8b-000000000002"


@pytest.fixture
def world(sources_app, httpserver):
    return World(httpserver)


def import_listen(app, tmp_path, release_mbid: str) -> int:
    """Import one ListenBrainz listen of Björk's Homogenic carrying `release_mbid`; returns the album's id."""
    listen = {"listened_at": 1699690502, "track_metadata": {
        "artist_name": "Björk", "track_name": "Jóga", "release_name": "Homogenic",
        "additional_info": {"duration_ms": 305000, "release_mbid": release_mbid}}}
    path = tmp_path / "listens.json"
    path.write_text(json.dumps([listen]))
    with app.app_context():
        assert imports.run_job(imports.create_file_job(path, None))["imported"] == 1
        album = db.session.scalar(select(Album).where(Album.title == "Homogenic"))
        assert album.release_mbid == release_mbid
        album_id = album.id
        db.session.remove()
    return album_id


def test_an_imported_release_id_goes_straight_to_the_cover_art_archive_without_a_search(
        sources_app, world, auth, tmp_path):
    album_id = import_listen(sources_app, tmp_path, fakes.RELEASE_ID)
    world.caa_releases[fakes.RELEASE_ID] = fakes.caa_listing(f"{world.base}/img/release.jpg")
    world.images["/img/release.jpg"] = RELEASE_COVER
    client = sources_app.test_client()
    report = enrich(client, auth, album_id)
    assert world.hits("/ws/2/") == 0  # no MusicBrainz search at all
    assert world.hits(f"/caa/release/{fakes.RELEASE_ID}") == 1 and world.hits("/caa/release-group/") == 0
    assert report["matches"]["musicbrainz"] == fakes.RELEASE_ID
    assert report["changes"]["cover"]["source"] == "coverart"
    assert "release_mbid" not in report["changes"] and report["conflicts"] == {}  # Last.fm agrees
    full = client.get(f"/covers/albums/{album_id}?size=full")
    assert full.get_data() == RELEASE_COVER
    full.close()
    stored = client.get(f"/api/v1/services/enrich/albums/{album_id}").get_json()
    assert (stored["release_mbid"], stored["musicbrainz_release_group_id"]) == (fakes.RELEASE_ID, None)


def test_a_different_release_id_found_is_reported_as_a_conflict_and_not_written(sources_app, world, auth, tmp_path):
    album_id = import_listen(sources_app, tmp_path, OTHER_RELEASE)
    client = sources_app.test_client()
    report = enrich(client, auth, album_id)
    assert world.hits("/ws/2/") == 0
    # Last.fm names another release: reported beside the one the import brought, which stays.
    assert report["conflicts"] == {"release_mbid": {"known": OTHER_RELEASE, "found": fakes.RELEASE_ID,
                                                    "source": "lastfm"}}
    assert "release_mbid" not in report["changes"]
    stored = client.get(f"/api/v1/services/enrich/albums/{album_id}").get_json()
    assert stored["release_mbid"] == OTHER_RELEASE and stored["conflicts"] == report["conflicts"]
    with sources_app.app_context():
        assert db.session.get(Album, album_id).release_mbid == OTHER_RELEASE
