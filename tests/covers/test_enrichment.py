"""Enrichment through the API against local stand-ins for every source: what changes, what the user typed stays,
ambiguity is reported, the cover is stored and served, whole runs report progress and resume."""
from __future__ import annotations

import json
import re

import pytest
from werkzeug import Response

from aime.database import run_write
from aime.extensions import db
from aime.models import Album
from aime.jobs import tasks
from aime.jobs.runtime import update_state
from tests.covers import fakes
from tests.covers.conftest import image_bytes
from tests.factories import create_album
from tests.support.polling import poll

COVER = image_bytes("JPEG", (500, 500), (10, 120, 200))


class World:
    """One handler for every source on the local server; tests change what it answers."""

    def __init__(self, server):
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.mb_groups = [fakes.mb_release_group()]
        self.caa = {fakes.RG_ID: fakes.caa_listing(f"{self.base}/img/caa.jpg")}
        self.caa_releases: dict[str, dict] = {}  # GET /release/<release id>: none listed unless a test adds one
        self.spotify = [fakes.spotify_album(image_url=f"{self.base}/img/spotify.jpg")]
        self.discogs = [fakes.discogs_result(cover_image=f"{self.base}/img/discogs.jpg")]
        self.lastfm = fakes.lastfm_album(image_url=f"{self.base}/img/lastfm.png")
        self.images = {"/img/caa.jpg": COVER, "/img/spotify.jpg": COVER, "/img/discogs.jpg": COVER,
                       "/img/lastfm.png": image_bytes("PNG", (300, 300))}
        self.failing: set[str] = set()
        server.expect_request("/accounts/api/token", method="POST").respond_with_json(fakes.spotify_token())
        for prefix in ("/ws/2/", "/caa/", "/spotify/", "/discogs/", "/lastfm/", "/img/"):
            server.expect_request(re.compile(f"^{prefix}")).respond_with_handler(self.handle)

    def handle(self, request):
        path = request.path
        if any(path.startswith(prefix) for prefix in self.failing):
            return Response("down", status=503)
        if path.startswith("/img/"):
            data = self.images.get(path)
            kind = "image/png" if path.endswith(".png") else "image/jpeg"
            return Response(data, content_type=kind) if data else Response("no", status=404)
        if path == "/ws/2/release-group":
            return _json(fakes.mb_search(*self.mb_groups))
        if path.startswith("/caa/release-group/"):
            listing = self.caa.get(path.rsplit("/", 1)[1])
            return _json(listing) if listing else Response("Not Found", status=404)
        if path.startswith("/caa/release/"):
            listing = self.caa_releases.get(path.rsplit("/", 1)[1])
            return _json(listing) if listing else Response("Not Found", status=404)
        if path == "/spotify/v1/search":
            return _json(fakes.spotify_search(*self.spotify))
        if path == "/discogs/database/search":
            return _json(fakes.discogs_search(*self.discogs))
        if path == "/lastfm/2.0/":
            return _json(self.lastfm)
        return Response("unexpected", status=404)

    def hits(self, prefix: str) -> int:
        """How many requests went to paths starting with prefix."""
        return sum(1 for request, _ in self.server.log if request.path.startswith(prefix))


def _json(body) -> Response:
    return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def world(sources_app, httpserver):
    return World(httpserver)


def enrich(client, auth, album_id):
    response = client.post(f"/api/v1/services/enrich/albums/{album_id}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_an_album_gets_year_links_ids_and_a_stored_cover(sources_app, world, auth):
    client = sources_app.test_client()
    album = create_album(client, auth, title="Homogenic", artists=["Björk"])
    report = enrich(client, auth, album["id"])
    assert report["status"] == "matched"
    assert report["matches"] == {"musicbrainz": fakes.RG_ID, "discogs": "master-1234",
                                 "spotify": "3icIEOIT2NnVvRSsMjpVFb", "lastfm": fakes.RELEASE_ID}
    changes = report["changes"]
    assert changes["year"] == {"from": None, "to": 1997, "source": "musicbrainz"}
    assert changes["spotify_url"] == {"from": None, "to": "https://open.spotify.com/album/3icIEOIT2NnVvRSsMjpVFb",
                                      "source": "spotify"}
    assert changes["discogs_url"]["to"] == "https://www.discogs.com/release/4567"
    assert changes["musicbrainz_release_group_id"]["to"] == fakes.RG_ID
    assert changes["release_mbid"] == {"from": None, "to": fakes.RELEASE_ID, "source": "musicbrainz"}
    assert report["conflicts"] == {}
    assert changes["cover"]["source"] == "coverart" and report["errors"] == {}
    detail = client.get(f"/api/v1/collection/albums/{album['id']}").get_json()
    assert detail["year"] == 1997 and detail["spotify_url"].endswith("3icIEOIT2NnVvRSsMjpVFb")
    full = client.get(f"/covers/albums/{album['id']}?size=full")
    assert full.mimetype == "image/jpeg" and full.get_data() == COVER
    full.close()
    assert world.hits("/img/") == 1  # one download: the first source that had an image
    # Again: nothing new, and the stored cover is not fetched a second time.
    again = enrich(client, auth, album["id"])
    assert again["changes"] == {} and world.hits("/img/") == 1
    stored = client.get(f"/api/v1/services/enrich/albums/{album['id']}").get_json()
    assert stored["cover"]["width"] == 500 and stored["cover"]["source"] == "coverart"
    assert stored["musicbrainz_release_group_id"] == fakes.RG_ID
    assert stored["release_mbid"] == fakes.RELEASE_ID  # albums.release_mbid, the column imports fill too
    with sources_app.app_context():
        assert db.session.get(Album, album["id"]).release_mbid == fakes.RELEASE_ID


def test_what_the_user_typed_is_never_changed(sources_app, world, auth):
    client = sources_app.test_client()
    album = create_album(client, auth, title="Homogenic", artists=["Björk"], year=1998,
                         spotify_url="https://open.spotify.com/album/mine")
    patched = client.patch(f"/api/v1/collection/albums/{album['id']}", json={"discogs_url": None}, headers=auth)
    assert patched.status_code == 200
    report = enrich(client, auth, album["id"])
    assert set(report["changes"]) == {"release_mbid", "musicbrainz_release_group_id", "cover"}
    detail = client.get(f"/api/v1/collection/albums/{album['id']}").get_json()
    assert (detail["year"], detail["spotify_url"], detail["discogs_url"]) == (
        1998, "https://open.spotify.com/album/mine", None)
    state = client.get(f"/api/v1/services/enrich/albums/{album['id']}").get_json()
    assert state["user_fields"] == ["artists", "discogs_url", "spotify_url", "title", "year"]


def test_the_users_image_url_is_the_cover_downloaded_once(sources_app, world, auth):
    client = sources_app.test_client()
    album = create_album(client, auth, title="Homogenic", artists=["Björk"],
                         image_url=f"{world.base}/img/lastfm.png")
    report = enrich(client, auth, album["id"])
    assert report["changes"]["cover"]["source"] == "image_url"
    response = client.get(f"/covers/albums/{album['id']}?size=full")
    assert response.mimetype == "image/png"
    response.close()
    assert world.hits("/img/") == 1


def test_two_equal_fits_are_reported_as_ambiguous_and_nothing_is_guessed(sources_app, world, auth):
    world.mb_groups = [fakes.mb_release_group(rg_id="rg-1997", date="1997-09-20"),
                       fakes.mb_release_group(rg_id="rg-2002", date="2002-01-01")]
    world.spotify = world.discogs = []
    world.lastfm = {"error": 6, "message": "Album not found"}
    client = sources_app.test_client()
    album = create_album(client, auth, title="Homogenic", artists=["Björk"])
    report = enrich(client, auth, album["id"])
    assert report["status"] == "ambiguous" and report["changes"] == {}
    assert [c["ref"] for c in report["ambiguous"]["musicbrainz"]] == ["rg-1997", "rg-2002"]
    assert client.get(f"/api/v1/collection/albums/{album['id']}").get_json()["year"] is None
    # The year the user knows breaks the tie.
    client.patch(f"/api/v1/collection/albums/{album['id']}", json={"year": 2002}, headers=auth)
    world.caa = {}
    assert enrich(client, auth, album["id"])["matches"] == {"musicbrainz": "rg-2002"}


def test_decorated_titles_and_suffixed_artists_still_match(sources_app, world, auth):
    world.mb_groups = []
    world.spotify = [fakes.spotify_album(name="Homogenic (Remastered 2011)")]
    world.discogs = [fakes.discogs_result(title="Björk (2) - Homogenic [Deluxe Edition]")]
    client = sources_app.test_client()
    album = create_album(client, auth, title="Homogenic", artists=["Björk"])
    report = enrich(client, auth, album["id"])
    assert report["matches"]["spotify"] == "3icIEOIT2NnVvRSsMjpVFb" and report["matches"]["discogs"] == "master-1234"


def test_a_failing_source_is_reported_and_the_others_still_count(sources_app, world, auth):
    world.failing = {"/ws/2/", "/img/caa"}
    client = sources_app.test_client()
    album = create_album(client, auth, title="Homogenic", artists=["Björk"])
    report = enrich(client, auth, album["id"])
    assert report["status"] == "matched"
    assert report["errors"]["musicbrainz"].startswith("MusicBrainz did not answer usefully after retries (HTTP 503)")
    assert report["changes"]["year"]["source"] == "discogs" and report["changes"]["cover"]["source"] == "discogs"


def test_unknown_album_is_404_and_no_source_is_503(app, client, auth, sources_app):
    assert client.post("/api/v1/services/enrich/albums/999", headers=auth).status_code == 404
    album = create_album(client, auth)
    assert client.post(f"/api/v1/services/enrich/albums/{album['id']}").status_code == 401
    bare = app.extensions["aime.config"].replace(musicbrainz_contact=None, discogs_token=None, spotify_client_id=None,
                                                 lastfm_api_key=None)
    app.extensions["aime.config"] = bare
    for url in (f"/api/v1/services/enrich/albums/{album['id']}", "/api/v1/services/enrich/all"):
        response = client.post(url, headers=auth)
        assert response.status_code == 503 and "No enrichment source is configured" in response.get_json()["detail"]


def test_enrich_all_runs_in_the_background_with_progress(sources_app, world, auth):
    # MusicBrainz off here: its one-request-a-second pacing would make this test take seconds per album.
    sources_app.extensions["aime.config"] = sources_app.extensions["aime.config"].replace(musicbrainz_contact=None)
    client = sources_app.test_client()
    ids = [create_album(client, auth, title=t, artists=["Björk"])["id"] for t in ("Homogenic", "Post", "Debut")]
    response = client.post("/api/v1/services/enrich/all", headers=auth)
    assert response.status_code == 202 and response.get_json()["status"] == "running"
    done = poll(lambda: (body := client.get("/api/v1/services/enrich/all").get_json())["status"] != "running" and body,
                what="enrichment run to finish")
    assert done["status"] == "done" and done["resumed"] is False
    assert (done["total"], done["processed"], done["matched"], done["not_found"]) == (3, 3, 1, 2)
    assert done["covers"] == 1 and done["changed"] == 1 and done["last_album_id"] == ids[-1]
    assert done["sources"] == ["discogs", "spotify", "lastfm"]
    # A second run has nothing to do: everything was tried within the retry period.
    client.post("/api/v1/services/enrich/all", headers=auth)
    again = poll(lambda: (body := client.get("/api/v1/services/enrich/all").get_json())["status"] != "running" and body,
                 what="second run to finish")
    assert (again["total"], again["processed"]) == (0, 0)


def test_an_interrupted_run_resumes_where_it_stopped(sources_app, world, auth):
    sources_app.extensions["aime.config"] = sources_app.extensions["aime.config"].replace(musicbrainz_contact=None)
    client = sources_app.test_client()
    first = create_album(client, auth, title="Homogenic", artists=["Björk"])
    second = create_album(client, auth, title="Post", artists=["Björk"])
    with sources_app.app_context():
        enrich(client, auth, first["id"])  # done before the "crash"
        searches_before = world.hits("/spotify/v1/search")
        # The process died mid-run: state still "running", heartbeat long ago, one album counted.
        update_state("enrichment", status="running", run_started_epoch=1, started_at="2026-11-30T00:00:00Z",
                     finished_at=None, heartbeat=0, processed=1, matched=1, changed=1, covers=1)

        def age():
            from aime.models import AlbumEnrichment
            db.session.get(AlbumEnrichment, first["id"]).enriched_at = 2  # enriched after the run started (1)

        run_write(age)
    response = client.post("/api/v1/services/enrich/all", headers=auth)
    assert response.status_code == 202
    done = poll(lambda: (body := client.get("/api/v1/services/enrich/all").get_json())["status"] != "running" and body,
                what="resumed run to finish")
    assert done["resumed"] is True and done["started_at"] == "2026-11-30T00:00:00Z"
    assert (done["processed"], done["matched"], done["not_found"], done["last_album_id"]) == (2, 1, 1, second["id"])
    assert world.hits("/spotify/v1/search") == searches_before + 1  # only the album left


def test_the_scheduled_task_runs_and_is_skipped_without_sources(sources_app, world, auth, app):
    sources_app.extensions["aime.config"] = sources_app.extensions["aime.config"].replace(musicbrainz_contact=None)
    client = sources_app.test_client()
    create_album(client, auth, title="Homogenic", artists=["Björk"])
    run = tasks.run_task(sources_app, "metadata_enrichment", "manual")
    assert run["status"] == "success" and run["output_file"].startswith("metadata_enrichment-")
    output = json.loads((sources_app.extensions["aime.config"].data_dir / "scheduled-output" / run["output_file"])
                        .read_text())
    assert (output["status"], output["processed"], output["covers"]) == ("done", 1, 1)
    sources_app.extensions["aime.config"] = sources_app.extensions["aime.config"].replace(
        discogs_token=None, spotify_client_id=None, lastfm_api_key=None)
    skipped = tasks.run_task(sources_app, "metadata_enrichment", "manual")
    assert skipped["status"] == "skipped" and "No enrichment source is configured" in skipped["error"]
