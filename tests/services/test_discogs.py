"""Discogs sync against a fake Discogs: pages of folder 0, new/changed/removed releases, progress, errors."""
import pytest
from sqlalchemy import select

from aime import create_app
from aime.extensions import db
from aime.integrations.http import IntegrationError
from aime.models import Album
from aime.jobs import runtime
from aime.services import discogs_sync
from tests.integrations.fakes import FakeDiscogs, discogs_release
from tests.services.test_tracker import poll_done


@pytest.fixture
def fake(httpserver):
    fake = FakeDiscogs(httpserver, per_page=2)
    fake.releases = [
        discogs_release(1234567, "OK Computer", ["Radiohead"], 1997,
                        labels=[("Parlophone", "NODATA 02"), ("Capitol Records (2)", "7243 8 55229 1 8")]),
        discogs_release(5678901, "Late Night Tales", ["Various"], 0, labels=[("Night Time Stories (2)", "none")],
                        fmt="Vinyl", genres=()),
        discogs_release(2345678, "Homogenic", ["Björk"], 1997, labels=[("One Little Indian", "TPLP 71 CD")],
                        fmt="CD"),
    ]
    return fake


@pytest.fixture
def discogs_app(app, fake):
    config = app.extensions["aime.config"].replace(discogs_token=fake.token, discogs_user="alice",
                                                   discogs_base_url=fake.base_url)
    new = create_app(config)
    yield new
    runtime.stop_runtime(new)
    with new.app_context():
        db.session.remove()
        db.engine.dispose()


def albums():
    return {a.discogs_id: a for a in db.session.scalars(select(Album))}


def test_sync_adds_updates_and_reports_removed_releases(discogs_app, fake, auth):
    client = discogs_app.test_client()
    # Homogenic was heard before it was bought: it exists outside the collection, without Discogs data.
    heard = {"artist": "Björk", "title": "Jóga", "album": "Homogenic", "played_at": "2023-11-14T12:00:00Z"}
    assert client.post("/api/v1/history/tracks", headers=auth, json=heard).status_code == 201

    response = client.post("/api/v1/services/discogs/sync", headers=auth)
    assert response.status_code == 202
    progress = poll_done(client, "/api/v1/services/discogs/progress")
    assert progress["status"] == "done", progress
    assert (progress["page"], progress["pages"], progress["total"], progress["processed"]) == (2, 2, 3, 3)
    assert (progress["added"], progress["updated"], progress["unchanged"], progress["removed_count"]) == (3, 0, 0, 0)
    assert [r["args"]["page"] for r in fake.requests] == ["1", "2"]
    with discogs_app.app_context():
        found = albums()
        ok = found[1234567]
        assert (ok.title, ok.year, ok.support, ok.catalog_number, ok.in_collection, ok.source) == (
            "OK Computer", 1997, "Vinyl", "NODATA 02", True, "discogs")
        assert ok.labels == ["Parlophone", "Capitol Records"]
        assert ok.discogs_url == "https://www.discogs.com/release/1234567"
        late = found[5678901]
        assert (late.year, late.labels, late.catalog_number, late.genre) == (None, ["Night Time Stories"], None, None)
        assert [a.name for a in late.artists] == ["Various"]
        homogenic = found[2345678]
        assert (homogenic.in_collection, homogenic.support, len(homogenic.tracks)) == (True, "CD", 1)
        assert db.session.scalar(select(db.func.count(Album.id))) == 3  # adopted, not duplicated

    # On Discogs: a corrected year, one record sold.
    fake.releases[0]["basic_information"]["year"] = 1998
    del fake.releases[1]
    with discogs_app.app_context():
        result = discogs_sync.sync(discogs_app.extensions["aime.config"])
        assert (result["added"], result["updated"], result["unchanged"]) == (0, 1, 1)
        assert result["removed"] == [{"album_id": albums()[5678901].id, "title": "Late Night Tales",
                                      "discogs_id": 5678901}]
        assert albums()[1234567].year == 1998
        assert albums()[5678901].in_collection is True  # reported, not deleted
        assert fake.token not in str(runtime.read_state("discogs"))


def test_a_failing_page_marks_the_sync_failed_and_keeps_what_was_done(discogs_app, fake, httpserver):
    httpserver.clear()
    httpserver.expect_ordered_request("/users/alice/collection/folders/0/releases").respond_with_handler(fake.handle)
    httpserver.expect_request("/users/alice/collection/folders/0/releases").respond_with_json({"oops": True})
    with discogs_app.app_context():
        with pytest.raises(IntegrationError, match="cannot read"):
            discogs_sync.sync(discogs_app.extensions["aime.config"])
        state = runtime.read_state("discogs")
        assert (state["status"], state["page"], state["added"]) == ("failed", 1, 2)
        assert state["error"] == "Discogs sent a collection page that AIME cannot read."
        assert len(albums()) == 2


def test_wrong_token_is_a_clear_failure(discogs_app, fake):
    fake.token = "rotated"
    with discogs_app.app_context():
        with pytest.raises(IntegrationError, match="HTTP 401"):
            discogs_sync.sync(discogs_app.extensions["aime.config"])
        assert runtime.read_state("discogs")["status"] == "failed"


def test_release_details(discogs_app, httpserver):
    httpserver.expect_request("/releases/1234567").respond_with_json(
        {"id": 1234567, "title": "OK Computer", "tracklist": [{"position": "A1", "title": "Airbag"}]})
    from aime.integrations.discogs import DiscogsClient

    with discogs_app.app_context():
        client = DiscogsClient.from_config(discogs_app.extensions["aime.config"])
    assert client.release(1234567)["tracklist"][0]["title"] == "Airbag"


def test_the_periodic_sync_skips_when_the_last_one_is_recent(discogs_app, fake):
    service = discogs_app.extensions[runtime.KEY].slots["discogs"].service
    with discogs_app.app_context():
        service.tick(discogs_app)
        assert len(fake.requests) == 2 and runtime.read_state("discogs")["status"] == "done"
        service.tick(discogs_app)  # e.g. a new lease holder after a restart: the day is not over yet
        assert len(fake.requests) == 2
        runtime.update_state("discogs", finished_epoch=0)
        service.tick(discogs_app)
        assert len(fake.requests) == 4


def test_cli_sync(discogs_app, runner):
    result = discogs_app.test_cli_runner().invoke(args=["discogs-sync"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "done: processed 3, added 3, updated 0, unchanged 0, removed_count 0"
    result = runner.invoke(args=["discogs-sync"])
    assert result.exit_code == 1 and "set AIME_DISCOGS_TOKEN and AIME_DISCOGS_USER" in result.output
