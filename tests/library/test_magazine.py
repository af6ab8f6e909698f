"""The magazine: editions composed from the data (numbers equal the API's), stored and numbered, written by the AI
around the data's numbers when configured, and the task that writes them."""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, UTC

import pytest
from werkzeug import Response

from aime import create_app
from tests.ai.conftest import completion, with_ai
from tests.factories import add_listen, create_album
from tests.scheduler.conftest import finished_run


@pytest.fixture(autouse=True)
def _drain(app):
    yield
    from aime.jobs.scheduler import stop_task_executor

    stop_task_executor(app)


def _ago(days: float) -> str:
    return datetime.fromtimestamp(time.time() - days * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _library(client, auth) -> dict:
    """Björk 5 plays (Homogenic 4, Post 1 not owned), Miles Davis 3 (Kind of Blue), Blue Train never played."""
    homogenic = create_album(client, auth, "Homogenic", ("Björk",), year=1997, tracks=[
        {"title": "Jóga", "duration_seconds": 300}, {"title": "Hunter", "duration_seconds": 240}])
    kind = create_album(client, auth, "Kind of Blue", ("Miles Davis",), year=1959, tracks=[
        {"title": "So What", "duration_seconds": 540}, {"title": "Blue in Green", "duration_seconds": 330}])
    train = create_album(client, auth, "Blue Train", ("John Coltrane",), year=1957)
    for days in (40, 30, 20):
        add_listen(client, auth, "Björk", "Jóga", _ago(days), album="Homogenic")
    add_listen(client, auth, "Björk", "Hunter", _ago(25), album="Homogenic")
    add_listen(client, auth, "Björk", "Army of Me", _ago(10), album="Post")
    add_listen(client, auth, "Miles Davis", "So What", _ago(50), album="Kind of Blue")
    add_listen(client, auth, "Miles Davis", "So What", _ago(5), album="Kind of Blue")
    add_listen(client, auth, "Miles Davis", "Blue in Green", _ago(4), album="Kind of Blue")
    return {"bjork": homogenic["artists"][0]["id"], "miles": kind["artists"][0]["id"], "homogenic": homogenic["id"],
            "kind": kind["id"], "train": train["id"]}


def _new_edition(client, auth) -> dict:
    started = client.post("/api/v1/magazines", headers=auth)
    assert started.status_code == 202, started.get_json()
    run = finished_run(client, started.get_json()["run_id"])
    assert (run["task"], run["status"], run["error"]) == ("magazine", "success", None)
    found = client.get(f"/api/v1/magazines?task_run_id={run['id']}").get_json()
    assert found["total"] == 1
    return client.get(f"/api/v1/magazines/{found['items'][0]['id']}").get_json()


def test_every_number_in_an_edition_equals_the_apis_statistics(client, auth):
    ids = _library(client, auth)
    edition = _new_edition(client, auth)
    assert (edition["number"], edition["writer"]) == (1, "data")
    featured, album = edition["featured_artist"], edition["album"]
    artist_api = client.get(f"/api/v1/collection/artists/{ids['bjork']}").get_json()
    assert (featured["name"], featured["plays"]) == ("Björk", 5) and artist_api["play_count"] == 5
    assert (featured["first_played"], featured["last_played"]) == (artist_api["first_played"],
                                                                   artist_api["last_played"])
    api_albums = {a["id"]: a["plays"] for a in artist_api["albums_owned"] + artist_api["albums_heard"]}
    assert [(r["title"], r["plays"]) for r in featured["records"]] == [("Homogenic", 4), ("Post", 1)]
    assert all(api_albums[r["album_id"]] == r["plays"] for r in featured["records"])
    assert [(t["title"], t["plays"]) for t in featured["top_tracks"]] == [
        (t["title"], t["plays"]) for t in artist_api["top_tracks"][:3]]

    album_api = client.get(f"/api/v1/collection/albums/{ids['kind']}").get_json()
    miles = client.get(f"/api/v1/collection/artists/{ids['miles']}").get_json()
    by_time = client.get("/api/v1/history/top/albums?by=duration").get_json()["items"]
    assert (album["title"], album["plays"], album["listening_seconds"]) == ("Kind of Blue", 3, 2 * 540 + 330)
    assert album["plays"] == album_api["play_count"] and album["last_played"] == album_api["last_played"]
    assert album["first_played"] == miles["albums_owned"][0]["first_played"]
    assert album["listening_seconds"] == next(i["duration_seconds"] for i in by_time if i["id"] == ids["kind"])
    assert (album["tracks"], album["tracks_heard"]) == (2, 2)
    assert [(t["title"], t["plays"]) for t in album["top_tracks"]] == [
        (t["title"], t["plays"]) for t in miles["top_tracks"]] == [("So What", 2), ("Blue in Green", 1)]
    assert "played 3 times" in album["text"] and "23 minutes in all" in album["text"]

    assert [h["title"] for h in edition["haikus"]] == ["Homogenic", "Kind of Blue", "Blue Train"]
    for item in edition["haikus"] + edition["collection"]["items"]:
        plays = client.get(f"/api/v1/collection/albums/{item['album_id']}").get_json()["play_count"]
        assert item["plays"] == plays, item
    assert [(i["title"], i["reason"]) for i in edition["collection"]["items"]] == [("Blue Train", "never played")]
    assert edition["collection"]["name"] == "Back to the shelf"


def test_the_edition_page_shows_the_numbers_of_the_api(client, auth):
    _library(client, auth)
    edition = _new_edition(client, auth)
    html = client.get(f"/magazine/{edition['id']}").get_data(as_text=True)
    facts = dict(re.findall(r'data-fact="(artist-plays|album-plays)">(\d+)<', html))
    assert facts == {"artist-plays": str(edition["featured_artist"]["plays"]),
                     "album-plays": str(edition["album"]["plays"])}
    assert re.findall(r'data-fact="record-plays">(\d+)<', html) == ["4", "1"]
    assert re.findall(r'data-fact="track-plays">(\d+)<', html) == ["2", "1"]
    assert 'data-seconds="1410"' in html
    listing = client.get("/magazine").get_data(as_text=True)
    assert f'href="/magazine/{edition["id"]}"' in listing and "written from the data" in listing


def test_editions_are_numbered_and_the_next_features_someone_else(client, auth):
    _library(client, auth)
    first, second = _new_edition(client, auth), _new_edition(client, auth)
    assert (first["number"], second["number"]) == (1, 2)
    assert (second["featured_artist"]["name"], second["album"]["title"]) == ("Miles Davis", "Homogenic")
    listed = client.get("/api/v1/magazines").get_json()
    assert [e["number"] for e in listed["items"]] == [2, 1] and listed["total"] == 2
    assert client.get("/api/v1/magazines/999").status_code == 404
    assert client.post("/api/v1/magazines").status_code == 401


def test_an_empty_library_still_makes_an_edition(client, auth):
    edition = _new_edition(client, auth)
    assert (edition["featured_artist"], edition["album"], edition["haikus"], edition["collection"]) == (
        None, None, [], None)
    assert "Nothing to write about yet" in client.get(f"/magazine/{edition['id']}").get_data(as_text=True)


def test_the_scheduled_task_stores_an_edition_and_writes_its_markdown(app, client, auth):
    from aime.jobs import tasks

    _library(client, auth)
    run = tasks.run_task(app, "magazine", trigger="schedule")
    assert run["status"] == "success", run
    text = (app.extensions["aime.config"].data_dir / "scheduled-output" / run["output_file"]).read_text()
    assert text.startswith("# AIME Magazine · No. 1 · ")
    assert "## The artist: Björk" in text and "- Blue Train — John Coltrane: never played" in text
    assert client.get("/api/v1/magazines").get_json()["items"][0]["task_run_id"] == run["id"]


# --- the AI writes -------------------------------------------------------------------------------------------

@pytest.fixture
def ai_app(app, httpserver):
    application = create_app(with_ai(app.extensions["aime.config"], httpserver))
    application.config["TESTING"] = True
    yield application
    from aime.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()


HAIKU = "needle finds the groove\nwinter light on the sleeve\nthe room hums along"


def _writer(request):
    prompt = request.get_json()["messages"][-1]["content"]
    if "haiku" in prompt:
        return Response(json.dumps(completion(HAIKU)))
    if "portrait" in prompt:
        return Response(json.dumps(completion("Björk fills the room: 5 plays, each one a small storm.")))
    if "album" in prompt:
        return Response(json.dumps(completion("An album played 999 times.")))  # a number not from the data
    return Response(json.dumps(completion("Records that wait for you.")))


def _generate(application):
    from aime.services import magazine

    with application.app_context():
        return magazine.generate_edition(application.extensions["aime.config"])


def test_the_ai_writes_the_prose_but_never_a_number_the_data_did_not_give(ai_app, client, auth, httpserver):
    _library(client, auth)
    httpserver.expect_request("/v1/chat/completions").respond_with_handler(_writer)
    edition = _generate(ai_app)
    assert edition["writer"] == "mixed"
    assert edition["featured_artist"]["text"] == "Björk fills the room: 5 plays, each one a small storm."
    assert edition["album"]["text"].startswith("“Kind of Blue” by Miles Davis has been played 3 times")  # data's
    assert edition["haikus"][0]["haiku"] == HAIKU
    assert edition["collection"]["intro"] == "Records that wait for you."
    assert edition["album"]["plays"] == 3  # numbers are the data's whatever the AI says


def test_a_failing_ai_leaves_an_edition_written_from_the_data(ai_app, client, auth, httpserver):
    _library(client, auth)
    httpserver.expect_request("/v1/chat/completions").respond_with_data("boom", status=500)
    edition = _generate(ai_app)
    assert edition["writer"] == "data" and edition["number"] == 1
    assert edition["featured_artist"]["text"].startswith("Björk is the artist of this edition: played 5 times")


def test_one_edition_at_a_time_and_the_pages_say_so(app, client, auth):
    from aime.jobs import tasks
    from tests.web.test_pages import signed_in_client

    with app.app_context():
        run_id = tasks.start_run("magazine", "schedule")  # an edition being written (in any worker)
    refused = client.post("/api/v1/magazines", headers=auth)
    assert (refused.status_code, refused.mimetype) == (409, "application/problem+json")
    assert f"run {run_id}" in refused.get_json()["detail"]
    browser, csrf = signed_in_client(app)
    page = browser.post("/magazine", data={"csrf_token": csrf}, follow_redirects=True).get_data(as_text=True)
    assert f"Task &#39;magazine&#39; is already running (run {run_id})." in page
    assert client.get("/api/v1/magazines").get_json()["total"] == 0
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/collections"' in nav and 'href="/magazine"' in nav


def test_one_play_of_unknown_length_reads_as_one_play_without_zero_minutes(client, auth):
    """A first scrobble (no length known) made "1 plays" and "0 minutes in all" in the edition and its page."""
    add_listen(client, auth, "Björk", "Jóga", "2024-01-15T23:30:00Z", album="Homogenic")
    edition = _new_edition(client, auth)
    assert edition["featured_artist"]["text"] == (
        "Björk is the artist of this edition: played once, first on 15 January 2024, last on 15 January 2024. "
        "The most played records: Homogenic (1 play).")
    assert edition["album"]["text"] == (
        "“Homogenic” by Björk has been played once, first on 15 January 2024, last on 15 January 2024. "
        "“Jóga” most of all (1 play).")
    html = client.get(f"/magazine/{edition['id']}").get_data(as_text=True)
    assert '<span data-fact="record-plays">1</span> play</span>' in html and "1 plays" not in html
    artist_page = client.get(f"/artists/{edition['featured_artist']['artist_id']}").get_data(as_text=True)
    assert "<span data-album-plays>1</span> play</span>" in artist_page and "1 plays" not in artist_page
    assert ">1 play</span>" in client.get("/journal").get_data(as_text=True)
