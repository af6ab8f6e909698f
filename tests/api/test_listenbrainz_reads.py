"""The ListenBrainz read and feedback endpoints, driven by liblistenbrainz and by multi-scrobbler's request shape.

Every test checks what AIME stored through AIME's own /api/v1.
"""
from __future__ import annotations

import time

import liblistenbrainz
import pytest
import requests
from liblistenbrainz.errors import ListenBrainzAPIException

from aime.services.importers.submit import recording_msid
from tests.conftest import TEST_TOKEN

LB = {"Authorization": f"Token {TEST_TOKEN}"}


@pytest.fixture
def lb(server):
    client = liblistenbrainz.ListenBrainz()
    client.api_base_url = server
    client.set_auth_token(TEST_TOKEN)
    return client


def _listen(title, at, artist="Radiohead", album="OK Computer", **info):
    return liblistenbrainz.Listen(track_name=title, artist_name=artist, release_name=album, listened_at=at,
                                  additional_info={"submission_client": "pytest", **info})


def _journal(client) -> list[tuple]:
    items = client.get("/api/v1/history/tracks?page_size=100").get_json()["items"]
    return [(i["artist"], i["title"], i["played_at"], i["loved"]) for i in items]


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def test_liblistenbrainz_reads_back_what_it_submitted(lb, client):
    now = int(time.time())
    lb.submit_multiple_listens([_listen("Airbag", now - 900), _listen("Lucky", now - 600),
                                _listen("Jóga", now - 300, artist="Björk", album=None)])
    listens = lb.get_listens("aime")
    assert [(x.artist_name, x.track_name, x.release_name, x.listened_at) for x in listens] == [
        ("Björk", "Jóga", None, now - 300), ("Radiohead", "Lucky", "OK Computer", now - 600),
        ("Radiohead", "Airbag", "OK Computer", now - 900)]
    assert listens[1].recording_msid == recording_msid("radiohead", "LUCKY", "ok computer")
    assert listens[1].additional_info == {"recording_msid": listens[1].recording_msid, "submission_client": "pytest"}
    assert [x.track_name for x in lb.get_listens("aime", max_ts=now - 300, count=1)] == ["Lucky"]
    assert [x.track_name for x in lb.get_listens("aime", min_ts=now - 900)] == ["Jóga", "Lucky"]
    assert lb.get_user_listen_count("aime") == 3
    assert [(a, t, at) for a, t, at, _ in _journal(client)] == [
        ("Björk", "Jóga", _iso(now - 300)), ("Radiohead", "Lucky", _iso(now - 600)),
        ("Radiohead", "Airbag", _iso(now - 900))]


def test_playing_now_is_served_then_expires_or_is_cleared(lb, app, client):
    lb.submit_playing_now(_listen("Let Down", None, duration_ms=299000))
    playing = lb.get_playing_now("aime")
    assert (playing.artist_name, playing.track_name, playing.release_name) == ("Radiohead", "Let Down",
                                                                               "OK Computer")
    assert playing.additional_info == {"duration": 299, "submission_client": "pytest",
                                       "recording_msid": recording_msid("Radiohead", "Let Down", "OK Computer")}
    assert lb.get_user_listen_count("aime") == 0  # playing now is not a listen
    response = client.post("/1/playing-now/delete", json={"client": "another player"}, headers=LB)
    assert (response.status_code, response.get_json()) == (
        404, {"code": 404, "error": "No playing now listen found for the specified client."})
    assert client.post("/1/playing-now/delete", json={"client": "pytest"}, headers=LB).get_json() == {
        "status": "ok", "message": "Playing now cleared successfully"}
    assert lb.get_playing_now("aime") is None
    lb.submit_playing_now(_listen("Karma Police", None, duration=1))
    with app.app_context():
        from aime.extensions import db
        from aime.models import ServiceState
        state = db.session.get(ServiceState, "now_playing")
        assert state.state["expires_at"] - state.state["since"] == 1
        state.state = {**state.state, "expires_at": int(time.time()) - 1}  # as if the track's second had passed
        db.session.commit()
    assert lb.get_playing_now("aime") is None


def test_playing_now_with_return_msid_and_feedback_loves_the_track(lb, server, client):
    now = int(time.time())
    lb.submit_single_listen(_listen("No Surprises", now - 60))
    response = requests.post(f"{server}/1/submit-listens?return_msid=true", headers=LB, timeout=10, json={
        "listen_type": "playing_now",
        "payload": [{"track_metadata": {"artist_name": "Radiohead", "track_name": "No Surprises",
                                        "release_name": "OK Computer"}}]})
    msid = recording_msid("Radiohead", "No Surprises", "OK Computer")
    assert response.json() == {"status": "ok", "recording_msid": msid}
    assert requests.post(f"{server}/1/feedback/recording-feedback", headers=LB, timeout=10,
                         json={"recording_msid": msid, "score": 1}).json() == {"status": "ok"}
    assert _journal(client) == [("Radiohead", "No Surprises", _iso(now - 60), True)]
    assert lb.get_user_feedback("aime", score=1, metadata=False) == {
        "feedback": [{"created": 0, "recording_mbid": None, "recording_msid": msid, "score": 1,
                      "track_metadata": None, "user_id": "aime"}],
        "count": 1, "total_count": 1, "offset": 0}
    assert requests.post(f"{server}/1/feedback/recording-feedback", headers=LB, timeout=10,
                         json={"recording_msid": msid, "score": 0}).json() == {"status": "ok"}
    assert _journal(client) == [("Radiohead", "No Surprises", _iso(now - 60), False)]
    # liblistenbrainz sends feedback by MBID only; an MBID no stored track carries is a clear 404.
    with pytest.raises(ListenBrainzAPIException) as caught:
        lb.submit_user_feedback(1, "2f3d422f-8890-41a1-9762-fbe16f107c31")
    assert caught.value.status_code == 404
    assert _journal(client) == [("Radiohead", "No Surprises", _iso(now - 60), False)]


def test_delete_listen_by_listened_at_and_msid(lb, client):
    now = int(time.time())
    lb.submit_multiple_listens([_listen("Airbag", now - 600), _listen("Lucky", now - 300)])
    lucky = lb.get_listens("aime", count=1)[0]
    assert lb.delete_listen(lucky) == {"status": "ok"}
    assert [t for _, t, _, _ in _journal(client)] == ["Airbag"]
    assert lb.get_user_listen_count("aime") == 1
    response = client.post("/1/delete-listen", json={"listened_at": now - 600, "recording_msid": "x"}, headers=LB)
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "x: Recording MSID format invalid."})


def test_unknown_user_gets_404_in_upstreams_shape(client):
    for path in ("/1/user/bob/listens", "/1/user/bob/listen-count", "/1/user/bob/playing-now",
                 "/apis/listenbrainz/1/feedback/user/bob/get-feedback"):
        response = client.get(path)
        assert (response.status_code, response.get_json()) == (404, {"code": 404, "error": "Cannot find user: bob"})


def test_user_name_is_configurable(make_app):
    app = make_app(user_name="alice")
    client = app.test_client()
    assert client.get("/1/validate-token", headers=LB).get_json()["user_name"] == "alice"
    assert client.get("/1/user/alice/listen-count").get_json() == {"payload": {"count": 0}}
    assert client.get("/1/user/aime/listen-count").status_code == 404


def test_latest_import_moves_forward_only(client):
    assert client.get("/1/latest-import?user_name=aime&service=lastfm").get_json() == {
        "musicbrainz_id": "aime", "latest_import": 0, "status": None, "error": None}
    assert client.post("/1/latest-import", json={"ts": 1700000000, "service": "lastfm"}, headers=LB).get_json() == {
        "status": "ok"}
    client.post("/1/latest-import", json={"ts": 1600000000}, headers=LB)
    assert client.get("/1/latest-import?user_name=aime").get_json()["latest_import"] == 1700000000
    assert client.post("/1/latest-import", json={"ts": 1}).status_code == 401
    assert client.get("/1/latest-import?user_name=aime&service=napster").get_json() == {
        "code": 404, "error": "Service does not exist: napster"}


def test_bad_read_arguments_get_upstreams_errors(client):
    cases = {"/1/user/aime/listens?count=x": "Invalid count argument: x",
             "/1/user/aime/listens?min_ts=10&max_ts=5": "max_ts should be greater than min_ts",
             "/1/user/aime/listens?count=-1": "Number of items requested should be positive"}
    for path, error in cases.items():
        response = client.get(path)
        assert (response.status_code, response.get_json()) == (400, {"code": 400, "error": error})


def test_multi_scrobbler_default_client_sequence(server, client):
    """multi-scrobbler's ListenBrainz client with its default refreshEnabled: true, request for request.

    From FoxxMD/multi-scrobbler src/backend/common/vendor/ListenbrainzApiClient.ts: testConnection probes
    /apis/web/v1/stats (Koito detection; anything but 200 means "not Koito"), testAuth GETs /1/validate-token,
    then before each scrobble getUserListens GETs /1/user/<name>/listens?count=N (a failure dead-letters the
    play), then submitListen POSTs /1/submit-listens with playToListenPayload's additional_info.
    """
    session = requests.Session()
    session.headers.update({"Authorization": f"Token {TEST_TOKEN}"})
    assert session.get(f"{server}/apis/web/v1/stats", timeout=10).status_code == 404
    assert session.get(f"{server}/1/validate-token", timeout=10).json()["valid"] is True
    now = int(time.time())
    mbid = "b1392450-e666-3926-a536-22c65f834433"
    for i, title in enumerate(["Airbag", "Paranoid Android"]):
        recent = session.get(f"{server}/1/user/aime/listens", params={"count": 20}, timeout=10)
        assert recent.status_code == 200
        assert [item["track_metadata"]["track_name"] for item in recent.json()["payload"]["listens"]] == (
            ["Airbag"] if i else [])
        body = {"listen_type": "single", "payload": [{
            "listened_at": now - 600 + 300 * i,
            "track_metadata": {
                "artist_name": "Radiohead", "track_name": title, "release_name": "OK Computer",
                "additional_info": {"duration": 284, "track_mbid": mbid, "recording_mbid": mbid,
                                    "artist_mbids": ["a74b1b7f-71a5-4011-9441-d0b5e4122711"], "release_mbid": mbid,
                                    "submission_client": "multi-scrobbler", "submission_client_version": "0.9.0",
                                    "artist_names": ["Radiohead"], "release_artist_name": "Radiohead",
                                    "release_artist_names": ["Radiohead"], "media_player": "Jellyfin"}}}]}
        response = session.post(f"{server}/1/submit-listens", json=body, timeout=10)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
    listens = session.get(f"{server}/1/user/aime/listens", params={"count": 20}, timeout=10).json()["payload"]
    assert [(x["listened_at"], x["track_metadata"]["track_name"], x["track_metadata"]["additional_info"])
            for x in listens["listens"]] == [
        (now - 300, "Paranoid Android", {"recording_msid": recording_msid("Radiohead", "Paranoid Android",
                                                                          "OK Computer"),
                                         "submission_client": "multi-scrobbler"}),
        (now - 600, "Airbag", {"recording_msid": recording_msid("Radiohead", "Airbag", "OK Computer"),
                               "submission_client": "multi-scrobbler"})]
    assert (listens["count"], listens["user_id"], listens["latest_listen_ts"]) == (2, "aime", now - 300)
    journal = client.get("/api/v1/history/tracks").get_json()["items"]
    assert [(i["title"], i["played_at"], i["source"]) for i in journal] == [
        ("Paranoid Android", _iso(now - 300), "listenbrainz"), ("Airbag", _iso(now - 600), "listenbrainz")]


def test_msid_is_the_same_for_any_spelling_and_finds_plays_from_other_sources(client):
    """A play recorded through /api/v1 gets the msid a client computes from its own spelling; feedback finds it."""
    body = {"artist": "Björk", "title": "Jóga", "album": "Homogenic", "played_at": "2023-11-10T21:04:11Z"}
    assert client.post("/api/v1/history/tracks", json=body, headers={"Authorization": f"Bearer {TEST_TOKEN}"}
                       ).status_code == 201
    msid = recording_msid("BJORK ", "jóga", "HOMOGENIC")
    listen = client.get("/1/user/aime/listens").get_json()["payload"]["listens"][0]
    assert (listen["recording_msid"], listen["track_metadata"]["artist_name"]) == (msid, "Björk")
    assert client.post("/1/feedback/recording-feedback", json={"recording_msid": msid, "score": 1},
                       headers=LB).get_json() == {"status": "ok"}
    assert _journal(client) == [("Björk", "Jóga", "2023-11-10T21:04:11Z", True)]
    unknown = recording_msid("Björk", "Hyperballad", None)
    response = client.post("/1/feedback/recording-feedback", json={"recording_msid": unknown, "score": 1},
                           headers=LB)
    assert (response.status_code, response.get_json()) == (
        404, {"code": 404, "error": f"No recording with recording_msid {unknown} is known to AIME."})


def test_liblistenbrainz_feedback_by_mbid_loves_a_track_scrobbled_with_that_mbid(lb, client):
    """Tracks keep their recording MBID since the history details work; feedback by MBID alone (liblistenbrainz,
    the Jellyfin plugin) still answered 404 "not known to AIME"."""
    now = int(time.time())
    mbid = "6b9a3e5c-9b6e-4b0e-9b70-1a3c1b5e0c11"
    lb.submit_single_listen(_listen("Let Down", now - 120, recording_mbid=mbid))
    lb.submit_single_listen(_listen("Lucky", now - 60))
    assert lb.submit_user_feedback(1, mbid.upper()) == {"status": "ok"}
    assert _journal(client) == [("Radiohead", "Lucky", _iso(now - 60), False),
                                ("Radiohead", "Let Down", _iso(now - 120), True)]
    assert lb.get_user_feedback("aime", score=1, metadata=False)["feedback"] == [
        {"created": 0, "recording_mbid": mbid, "score": 1, "track_metadata": None, "user_id": "aime",
         "recording_msid": recording_msid("Radiohead", "Let Down", "OK Computer")}]
    assert lb.submit_user_feedback(0, mbid) == {"status": "ok"}
    assert _journal(client)[1] == ("Radiohead", "Let Down", _iso(now - 120), False)
    with pytest.raises(ListenBrainzAPIException) as caught:
        lb.submit_user_feedback(1, "2f3d422f-8890-41a1-9762-fbe16f107c31")
    assert caught.value.status_code == 404
