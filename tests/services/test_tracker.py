"""Last.fm tracker against a fake Last.fm: every scrobble between polls, own timestamps, resume, dedup, errors."""
import time

import pytest
from sqlalchemy import select

from aime.extensions import db
from aime.integrations.http import RetryPolicy
from aime.integrations.lastfm import LastfmClient
from aime.models import Album, Artist, Listen, Track
from aime.jobs import runtime
from tests.integrations.fakes import FakeLastfm

T0 = 1_699_963_200  # 2023-11-14T12:00:00Z


@pytest.fixture
def fake(httpserver):
    return FakeLastfm(httpserver, page_size=2, now_playing={"artist": "Air", "title": "La Femme d'Argent",
                                                            "album": "Moon Safari"})


@pytest.fixture
def lastfm_app(app, fake, app_factory):
    """Factory of apps on the migrated app's database, reconfigured to use the fake Last.fm."""
    config = app.extensions["aime.config"].replace(lastfm_api_key=fake.api_key, lastfm_user="alice",
                                                   lastfm_base_url=fake.base_url)
    return lambda: app_factory(config)


def stored():
    rows = db.session.execute(select(Artist.name, Track.title, Album.title, Listen.played_at, Listen.source)
                              .join(Track, Track.id == Listen.track_id).join(Artist, Artist.id == Track.artist_id)
                              .outerjoin(Album, Album.id == Track.album_id).order_by(Listen.played_at)).all()
    return [tuple(r) for r in rows]


def tick(app):
    with app.app_context():
        app.extensions[runtime.KEY].slots["tracker"].service.tick(app)


def test_three_scrobbles_between_polls_are_all_stored_with_their_own_times_and_a_restart_resumes(lastfm_app, fake):
    fake.add("Daft Punk", "One More Time", "Discovery", T0)
    first = lastfm_app()
    tick(first)
    with first.app_context():
        assert stored() == [("Daft Punk", "One More Time", "Discovery", T0, "lastfm")]
        assert runtime.read_state("tracker")["last_uts"] == T0

    # Three plays happen before the next poll (more than one page of the fake's 2 per page).
    fake.add("Nina Simone", "Feeling Good", None, T0 + 240)
    fake.add("Miles Davis", "So What", "Kind of Blue", T0 + 800)
    fake.add("Björk", "Jóga", "Homogenic", T0 + 1105)
    tick(first)
    with first.app_context():
        assert stored() == [("Daft Punk", "One More Time", "Discovery", T0, "lastfm"),
                            ("Nina Simone", "Feeling Good", None, T0 + 240, "lastfm"),
                            ("Miles Davis", "So What", "Kind of Blue", T0 + 800, "lastfm"),
                            ("Björk", "Jóga", "Homogenic", T0 + 1105, "lastfm")]
        state = runtime.read_state("tracker")
        assert state["last_uts"] == T0 + 1105
        assert state["last_result"] == {"stored": 3, "duplicates": 0, "pages": 2}
    assert fake.requests[-1]["from"] == str(T0 + 1)  # asked only for what came after the last seen scrobble

    # A restart: a new app (process) on the same database goes on from the last seen scrobble.
    fake.add("Daft Punk", "One More Time", "Discovery", T0 + 1500)  # a genuine repeat play, 25 min later
    second = lastfm_app()
    tick(second)
    assert fake.requests[-1]["from"] == str(T0 + 1105 + 1)
    with second.app_context():
        rows = stored()
        assert len(rows) == 5 and rows[-1] == ("Daft Punk", "One More Time", "Discovery", T0 + 1500, "lastfm")
        assert runtime.read_state("tracker")["polls"] == 3


def test_now_playing_is_not_stored(lastfm_app, fake):
    fake.add("Daft Punk", "One More Time", "Discovery", T0)
    app = lastfm_app()
    tick(app)
    with app.app_context():
        assert [r[1] for r in stored()] == ["One More Time"]  # not "La Femme d'Argent"


def test_a_play_already_known_within_the_window_is_a_duplicate(lastfm_app, fake, auth):
    app = lastfm_app()
    # The same play came in through another source (a ListenBrainz client) 30 s earlier, album-less.
    response = app.test_client().post("/api/v1/history/tracks", headers=auth, json={
        "artist": "DAFT PUNK", "title": "one more time", "played_at": "2023-11-14T11:59:30Z"})
    assert response.status_code == 201
    fake.add("Daft Punk", "One More Time", "Discovery", T0)
    fake.add("Daft Punk", "One More Time", "Discovery", T0 + 61)  # outside the 60 s window: a real repeat
    with app.app_context():
        runtime.update_state("tracker", last_uts=T0 - 3600)
    tick(app)
    with app.app_context():
        assert [r[3] for r in stored()] == [T0 - 30, T0 + 61]
        assert runtime.read_state("tracker")["last_result"] == {"stored": 1, "duplicates": 1, "pages": 1}


def test_first_poll_without_state_takes_only_the_newest_page(lastfm_app, fake):
    for i in range(5):
        fake.add("Air", f"Track {i}", "Moon Safari", T0 + i * 300)
    app = lastfm_app()
    tick(app)
    with app.app_context():
        assert [r[3] for r in stored()] == [T0 + 900, T0 + 1200]
        assert runtime.read_state("tracker")["last_uts"] == T0 + 1200


def test_errors_are_recorded_and_the_tracker_goes_on(lastfm_app, fake, httpserver):
    app = lastfm_app()
    fake.api_key = "another-key"  # Last.fm now refuses ours: error 10
    tick(app)
    with app.app_context():
        state = runtime.read_state("tracker")
        assert state["last_error"].startswith("Last.fm refused the request: error 10")
        assert "lfm-secret-key" not in str(state)
    fake.api_key = "lfm-secret-key"
    fake.add("Air", "Sexy Boy", "Moon Safari", T0)
    tick(app)
    with app.app_context():
        assert runtime.read_state("tracker")["last_error"] is None
        assert len(stored()) == 1


def test_rate_limit_error_29_is_retried(httpserver, fake):
    httpserver.clear()
    httpserver.expect_ordered_request("/2.0/").respond_with_json({"error": 29, "message": "Rate Limit Exceeded"},
                                                                  status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/2.0/").respond_with_handler(fake.handle)
    fake.add("Air", "Sexy Boy", "Moon Safari", T0)
    sleeps = []
    client = LastfmClient(fake.base_url, fake.api_key, "alice", policy=RetryPolicy(initial=0.01), sleep=sleeps.append)
    page = client.recent_tracks(1)
    assert [s.title for s in page.scrobbles] == ["Sexy Boy"] and sleeps == [1.0]


def test_malformed_payload_is_an_error_not_a_crash(httpserver, lastfm_app):
    httpserver.clear()
    httpserver.expect_request("/2.0/").respond_with_json({"recenttracks": {"track": [{"name": "x"}]}})
    app = lastfm_app()
    tick(app)
    with app.app_context():
        assert runtime.read_state("tracker")["last_error"] == \
            "Last.fm sent a recenttracks response that AIME cannot read."
        assert stored() == []


def test_history_import_takes_every_page_and_reports_progress(lastfm_app, fake, auth):
    for i in range(5):
        fake.add("Air", f"Track {i}", "Moon Safari" if i % 2 else None, T0 + i * 300)
    app = lastfm_app()
    client = app.test_client()
    response = client.post("/api/v1/services/lastfm/import-history", headers=auth)
    assert response.status_code == 202
    assert response.get_json()["status"] == "running"
    progress = poll_done(client, "/api/v1/services/lastfm/import-history")
    assert progress["status"] == "done"
    assert (progress["page"], progress["pages"], progress["total"]) == (3, 3, 5)
    assert (progress["processed"], progress["imported"], progress["duplicates"]) == (5, 5, 0)
    status = client.get("/api/v1/services/tracker/status").get_json()
    assert status["state"]["history_import"]["imported"] == 5  # also shown with the tracker's status
    with app.app_context():
        assert [r[3] for r in stored()] == [T0 + i * 300 for i in range(5)]
    # Again: nothing new.
    assert client.post("/api/v1/services/lastfm/import-history", headers=auth).status_code == 202
    progress = poll_done(client, "/api/v1/services/lastfm/import-history")
    assert (progress["status"], progress["imported"], progress["duplicates"]) == ("done", 0, 5)


def poll_done(client, url, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).get_json()
        if body.get("status") in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{url} did not finish: {body}")


def test_cli_history_import_prints_progress(lastfm_app, fake, runner):
    for i in range(3):
        fake.add("Air", f"Track {i}", "Moon Safari", T0 + i * 300)
    result = lastfm_app().test_cli_runner().invoke(args=["lastfm-import-history"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "page 1/2: 1 scrobbles read, 1 imported, 0 duplicates",  # the oldest page: 3 = 2 + 1
        "page 2/2: 3 scrobbles read, 3 imported, 0 duplicates",
        "done: processed 3, imported 3, duplicates 0"]
    # Without credentials: one clear line naming what to set, exit 1.
    result = runner.invoke(args=["lastfm-import-history"])
    assert result.exit_code == 1
    assert "set AIME_LASTFM_API_KEY and AIME_LASTFM_USER" in result.output


def test_a_poll_that_fails_half_way_resumes_from_the_last_stored_page(lastfm_app, fake):
    fake.add("Air", "Intro", "Moon Safari", T0)
    app = lastfm_app()
    tick(app)
    for i in range(1, 6):  # five new plays: pages (2 per page, newest first) 1 = [5, 4], 2 = [3, 2], 3 = [1]
        fake.add("Air", f"Track {i}", "Moon Safari", T0 + i * 300)
    fake.break_once = {"2"}
    tick(app)  # page 1 read, page 3 stored, page 2 broken: the poll stops there
    with app.app_context():
        state = runtime.read_state("tracker")
        assert state["last_uts"] == T0 + 300 and "cannot read" in state["last_error"]
        assert [r[3] for r in stored()] == [T0, T0 + 300]
    tick(app)
    assert fake.requests[-2]["from"] == str(T0 + 300 + 1)
    with app.app_context():
        assert [r[3] for r in stored()] == [T0 + i * 300 for i in range(6)]
        state = runtime.read_state("tracker")
        assert state["last_uts"] == T0 + 1500 and state["last_result"] == {"stored": 4, "duplicates": 0, "pages": 2}


def test_an_active_tracker_without_credentials_says_so_in_its_state(app):
    tick(app)  # e.g. the key was removed from the environment while the tracker stayed active
    with app.app_context():
        assert runtime.read_state("tracker")["last_error"] == \
            "Last.fm is not configured: set AIME_LASTFM_API_KEY and AIME_LASTFM_USER."
