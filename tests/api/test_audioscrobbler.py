"""The Last.fm protocols: pylast pointed at AIME's /2.0/, raw 2.0 requests (JSON, errors), and legacy 1.2.

Every test checks what AIME stored through AIME's own /api/v1.
"""
from __future__ import annotations

import hashlib
import threading
import time

import httpx2
import pylast
import pytest
import requests
from werkzeug.serving import make_server

from aime.services.audioscrobbler import session_key
from tests.conftest import TEST_TOKEN

SECRET = "shared-secret-of-the-test"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class ToPlainHttp(httpx2.BaseTransport):
    """pylast only speaks https://<ws_server>; send its requests to the local server over plain HTTP instead."""

    def __init__(self, base_url: str):
        self.base = httpx2.URL(base_url)
        self.open: list[httpx2.HTTPTransport] = []

    def handle_request(self, request):
        request.url = request.url.copy_with(scheme="http", host=self.base.host, port=self.base.port)
        request.headers["Host"] = f"{self.base.host}:{self.base.port}"
        # pylast closes its client (and so this transport) after each call: one inner transport per call.
        inner = httpx2.HTTPTransport()
        self.open.append(inner)
        return inner.handle_request(request)

    def close(self) -> None:
        while self.open:
            self.open.pop().close()


def _serve(app):
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread, f"http://127.0.0.1:{httpd.server_port}"


@pytest.fixture
def server(app):
    httpd, thread, url = _serve(app)
    yield url
    httpd.shutdown()
    thread.join(10)


def network(base_url: str, secret: str = "any", password: str = TEST_TOKEN, user: str = "aime") -> pylast._Network:
    """A pylast network whose web service is AIME (session from username + md5(password), as pylast does)."""
    return pylast._Network(name="AIME", homepage=base_url, ws_server=("aime.test", "/2.0/"), api_key="any-key",
                           api_secret=secret, session_key="", username=user, password_hash=pylast.md5(password),
                           domain_names={}, urls={}, proxy={"https://": ToPlainHttp(base_url)})


def _journal(client) -> list[tuple]:
    items = client.get("/api/v1/history/tracks?page_size=100").get_json()["items"]
    return [(i["artist"], i["title"], i["album"], i["played_at"], i["loved"], i["source"]) for i in items]


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def test_pylast_scrobbles_a_batch_updates_now_playing_and_loves(server, client):
    net = network(server)
    assert net.session_key == session_key(TEST_TOKEN, "aime")
    now = int(time.time())
    net.scrobble_many([{"artist": "Portishead", "title": "Roads", "timestamp": now - 900, "album": "Dummy",
                        "duration": 305},
                       {"artist": "Portishead", "title": "Sour Times", "timestamp": now - 600, "album": "Dummy"},
                       {"artist": "Massive Attack", "title": "Teardrop", "timestamp": now - 300}])
    net.scrobble("Portishead", "Roads", now - 900, album="Dummy")  # resent: stored once
    net.update_now_playing("Massive Attack", "Angel", album="Mezzanine", duration=379)
    net.get_track("Portishead", "Roads").love()
    assert _journal(client) == [
        ("Massive Attack", "Teardrop", None, _iso(now - 300), False, "lastfm-api"),
        ("Portishead", "Sour Times", "Dummy", _iso(now - 600), False, "lastfm-api"),
        ("Portishead", "Roads", "Dummy", _iso(now - 900), True, "lastfm-api")]
    playing = client.get("/1/user/aime/playing-now").get_json()["payload"]["listens"]
    assert [(p["track_metadata"]["artist_name"], p["track_metadata"]["track_name"],
             p["track_metadata"]["release_name"], p["track_metadata"]["additional_info"]["duration"])
            for p in playing] == [("Massive Attack", "Angel", "Mezzanine", 379)]
    net.get_track("Portishead", "Roads").unlove()
    assert [row[4] for row in _journal(client)] == [False, False, False]


def test_pylast_with_a_wrong_password_gets_error_4(server):
    with pytest.raises(pylast.WSError) as caught:
        network(server, password="not-the-token")
    assert (caught.value.status, caught.value.details) == (
        "4", "Authentication Failed - You do not have permissions to access the service")


def test_signature_is_checked_when_a_shared_secret_is_set(make_app):
    app = make_app(lastfm_shared_secret=SECRET)
    httpd, thread, url = _serve(app)
    try:
        net = network(url, secret=SECRET)
        net.scrobble("Björk", "Jóga", 1700000000, album="Homogenic")
        with pytest.raises(pylast.WSError) as caught:
            network(url, secret="another secret")
        assert (caught.value.status, caught.value.details) == ("13", "Invalid method signature supplied")
        items = app.test_client().get("/api/v1/history/tracks").get_json()["items"]
        assert [(i["artist"], i["title"], i["played_at"]) for i in items] == [
            ("Björk", "Jóga", "2023-11-14T22:13:20Z")]
    finally:
        httpd.shutdown()
        thread.join(10)


def test_json_answers_and_last_fm_error_codes(client):
    sk = session_key(TEST_TOKEN, "aime")
    response = client.post("/2.0/", data={"method": "auth.getMobileSession", "username": "aime",
                                          "authToken": md5("aime" + md5(TEST_TOKEN)), "format": "json"})
    assert response.get_json() == {"session": {"name": "aime", "key": sk, "subscriber": 0}}
    response = client.post("/2.0/", data={"method": "track.scrobble", "sk": "wrong", "format": "json",
                                          "artist[0]": "A", "track[0]": "T", "timestamp[0]": "1700000000"})
    assert (response.status_code, response.get_json()) == (
        403, {"error": 9, "message": "Invalid session key - Please re-authenticate"})
    response = client.post("/2.0/", data={"method": "track.scrobble", "sk": sk, "format": "json",
                                          "artist[0]": "A", "timestamp[0]": "1700000000"})
    assert (response.status_code, response.get_json()) == (
        400, {"error": 6, "message": "Invalid parameters - artist[0], track[0] and timestamp[0] are required"})
    response = client.post("/2.0/", data={"method": "user.getInfo", "format": "json"})
    assert (response.status_code, response.get_json()["error"]) == (400, 3)
    too_many = {f"{k}[{i}]": v for i in range(51) for k, v in
                (("artist", "A"), ("track", f"T{i}"), ("timestamp", str(1700000000 + i)))}
    response = client.post("/2.0/", data={"method": "track.scrobble", "sk": sk, "format": "json", **too_many})
    assert (response.status_code, response.get_json()["error"]) == (400, 6)
    future = int(time.time()) + 7200
    response = client.post("/2.0/", data={"method": "track.scrobble", "sk": sk, "format": "json",
                                          "artist[0]": "Air", "track[0]": "Playground Love", "album[0]": "",
                                          "timestamp[0]": "1700000000",
                                          "artist[1]": "Air", "track[1]": "Venus", "timestamp[1]": str(future)})
    assert response.get_json() == {"scrobbles": {"@attr": {"accepted": 1, "ignored": 1}, "scrobble": [
        {"track": {"corrected": "0", "#text": "Playground Love"}, "artist": {"corrected": "0", "#text": "Air"},
         "album": {"corrected": "0", "#text": ""}, "albumArtist": {"corrected": "0", "#text": ""},
         "timestamp": "1700000000", "ignoredMessage": {"code": "0", "#text": ""}},
        {"track": {"corrected": "0", "#text": "Venus"}, "artist": {"corrected": "0", "#text": "Air"},
         "album": {"corrected": "0", "#text": ""}, "albumArtist": {"corrected": "0", "#text": ""},
         "timestamp": str(future), "ignoredMessage": {"code": "3", "#text": "Timestamp too new"}}]}}
    assert [(a, t, p) for a, t, _, p, _, _ in _journal(client)] == [("Air", "Playground Love", "2023-11-14T22:13:20Z")]


def test_xml_is_the_default_answer(client):
    response = client.post("/apis/audioscrobbler/2.0/", data={"method": "track.love", "sk": "nope",
                                                              "artist": "A", "track": "T"})
    assert (response.status_code, response.mimetype, response.data) == (
        403, "text/xml", b'<?xml version="1.0" encoding="UTF-8"?>\n<lfm status="failed">'
                         b'<error code="9">Invalid session key - Please re-authenticate</error></lfm>')


def test_legacy_1_2_handshake_now_playing_and_submission(server, client):
    t = str(int(time.time()))
    hs = requests.get(f"{server}/", params={"hs": "true", "p": "1.2.1", "c": "tst", "v": "1.0", "u": "aime",
                                           "t": t, "a": md5(md5(TEST_TOKEN) + t)}, timeout=10)
    lines = hs.text.split("\n")
    assert lines == ["OK", session_key(TEST_TOKEN, "aime"), f"{server}/audioscrobbler/1.2/nowplaying",
                     f"{server}/audioscrobbler/1.2/submission", ""]
    sid, np_url, sub_url = lines[1:4]
    assert requests.post(np_url, data={"s": sid, "a": "Daft Punk", "t": "Veridis Quo", "b": "Discovery",
                                       "l": "345", "n": "11", "m": ""}, timeout=10).text == "OK\n"
    stamp = int(time.time()) - 400
    body = {"s": sid, "a[0]": "Daft Punk", "t[0]": "Veridis Quo", "i[0]": str(stamp), "o[0]": "P", "r[0]": "L",
            "l[0]": "345", "b[0]": "Discovery", "n[0]": "11", "m[0]": "",
            "a[1]": "Daft Punk", "t[1]": "Digital Love", "i[1]": str(stamp - 300), "o[1]": "P", "r[1]": "",
            "l[1]": "301", "b[1]": "Discovery", "n[1]": "3", "m[1]": ""}
    assert requests.post(sub_url, data=body, timeout=10).text == "OK\n"
    assert requests.post(sub_url, data={**body, "s": "stale"}, timeout=10).text == "BADSESSION\n"
    assert _journal(client) == [("Daft Punk", "Veridis Quo", "Discovery", _iso(stamp), True, "lastfm-api"),
                                ("Daft Punk", "Digital Love", "Discovery", _iso(stamp - 300), False, "lastfm-api")]
    assert client.get("/1/user/aime/playing-now").get_json()["payload"]["listens"][0]["track_metadata"][
        "track_name"] == "Veridis Quo"


def test_legacy_handshake_refuses_a_wrong_password_or_an_old_time(client):
    t = str(int(time.time()))
    assert client.get(f"/?hs=true&p=1.2&u=aime&t={t}&a={md5(md5('wrong') + t)}").data == b"BADAUTH\n"
    old = str(int(time.time()) - 3 * 86400)
    assert client.get(f"/?hs=true&p=1.2&u=aime&t={old}&a={md5(md5(TEST_TOKEN) + old)}").data == b"BADTIME\n"
    assert client.get(f"/?hs=true&p=1.2&u=bob&t={t}&a={md5(md5(TEST_TOKEN) + t)}").data == b"BADAUTH\n"
