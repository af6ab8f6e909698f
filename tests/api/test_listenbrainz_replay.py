"""Upstream's own API test cases (listenbrainz-server tests/integration/test_api.py) replayed against AIME.

Each case keeps upstream's payload file (tests/data/listenbrainz_upstream, GPL-2.0, see its NOTICE.md), its
mutation and its expected status and message; where upstream reads the listens back, AIME's /api/v1 journal
is read instead. Not replayed: cases about other features (stats, playlists, similar users, e-mail checks,
rate limits, User-Agent blocks) and the read-back of additional_info fields, which AIME does not keep.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import time_machine

from tests.conftest import TEST_TOKEN

DATA = Path(__file__).resolve().parents[1] / "data" / "listenbrainz_upstream"
LB = {"Authorization": f"Token {TEST_TOKEN}", "Content-Type": "application/json"}


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def send(client, payload, **params):
    query = "".join(f"&{k}={v}" for k, v in params.items()).replace("&", "?", 1)
    return client.post(f"/1/submit-listens{query}", data=json.dumps(payload), headers=LB)


def journal(client) -> list[tuple]:
    items = client.get("/api/v1/history/tracks?page_size=100").get_json()["items"]
    return [(i["artist"], i["title"], i["album"], i["played_at"]) for i in items]


def _set(path: list, value):
    def mutate(payload):
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _delete(path: list):
    def mutate(payload):
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


def _repeat(times: int, extra: int = 0):
    def mutate(payload):
        payload["payload"] = payload["payload"] * times + payload["payload"][:extra]
    return mutate


META = ["payload", 0, "track_metadata"]
INFO = META + ["additional_info"]
FADE = ("Kanye West", "Fade", "The Life of Pablo", "2017-02-07T06:36:49Z")

# (upstream test, payload file, mutation, status, error (None: not checked by upstream), journal afterwards)
CASES = [
    ("test_valid_single", "valid_single", None, 200, None, [FADE]),
    ("test_single_more_than_one_listen", "single_more_than_one_listen", None, 400, None, []),
    ("test_playing_now_with_ts", "playing_now_with_ts", None, 400, None, []),
    ("test_playing_now_more_than_one_listen", "playing_now_more_than_one_listen", None, 400, None, []),
    ("test_valid_import", "valid_import", None, 200, None,
     [("The Black Keys", "Sister", "El Camino", "2017-02-07T11:29:52Z"),
      ("Kanye West", "Fade", "The Life of Pablo", "2017-02-07T11:29:06Z")]),
    ("test_too_many_listens", "valid_import", _repeat(500, 2), 400,
     "Too many listens. You may not submit more than 1000 listens at once.", []),
    ("test_empty_track_name", "empty_track_name", _delete(META + ["track_name"]), 400,
     "JSON document does not contain required field track_metadata.track_name.", []),
    ("test_invalid_release_name", "invalid_release_name", None, 400,
     "track_metadata.release_name must be a single string.", []),
    ("test_bad_track_name_format (list)", "empty_track_name", _set(META + ["track_name"], []), 400,
     "track_metadata.track_name must be a single string.", []),
    ("test_bad_track_name_format (int)", "empty_track_name", _set(META + ["track_name"], 1), 400,
     "track_metadata.track_name must be a single string.", []),
    ("test_empty_artist_name", "empty_artist_name", None, 400, "field track_metadata.artist_name is empty.", []),
    ("test_empty_artist_name (deleted)", "empty_artist_name", _delete(META + ["artist_name"]), 400,
     "JSON document does not contain required field track_metadata.artist_name.", []),
    ("test_bad_artist_name_format", "empty_artist_name", _set(META + ["artist_name"], None), 400,
     "track_metadata.artist_name must be a single string.", []),
    ("test_too_many_tags_in_listen", "too_many_tags", None, 400,
     "JSON document may not contain more than 50 items in track_metadata.additional_info.tags.", []),
    ("test_too_long_tag", "too_long_tag", None, 400,
     "JSON document may not contain track_metadata.additional_info.tags longer than 64 characters.", []),
    ("test_missing_track_metadata", "invalid_listen_missing_track_metadata", None, 400, None, []),
    ("test_null_track_metadata", "invalid_listen_null_track_metadata", None, 400,
     "JSON document may not have track_metadata with null value.", []),
    ("test_null_listened_at", "invalid_listen_null_listened_at", None, 400,
     "JSON document must contain an int value for listened_at.", []),
    ("test_invalid_release_mbid", "invalid_release_mbid", None, 400, "release_mbid MBID format invalid.", []),
    ("test_invalid_artist_mbid", "invalid_artist_mbid", None, 400, "artist_mbids MBID format invalid.", []),
    ("test_invalid_recording_mbid", "invalid_recording_mbid", None, 400, "recording_mbid MBID format invalid.", []),
    ("test_multi_duration", "multi_duration", None, 400,
     "JSON document should not contain both duration and duration_ms.", []),
    ("test_invalid_duration", "invalid_duration", None, 400,
     "Value for duration is invalid, should be a positive integer.", []),
    ("test_invalid_duration (too large)", "invalid_duration", _set(INFO + ["duration"], 5345029000), 400,
     "Value for duration is too large, max permitted value is 2073600", []),
    ("test_valid_duration", "valid_duration", None, 200, None,
     [("Majid Jordan", "Every Step Every Way", "Majid Jordan", "2017-02-10T06:51:55Z")]),
    ("test_string_duration_conversion", "valid_duration", _set(INFO + ["duration_ms"], "300000"), 200, None,
     [("Majid Jordan", "Every Step Every Way", "Majid Jordan", "2017-02-10T06:51:55Z")]),
    ("test_unicode_null_error", "listen_having_unicode_null", None, 400, "\x00Fade contains a unicode null", []),
    ("test_additional_info", "additional_info", _set(["payload", 0, "listened_at"], 1280258690), 200, None,
     [("Majid Jordan", "Every Step Every Way", "Majid Jordan", "2010-07-27T19:24:50Z")]),
    ("test_additional_info_invalid_mbids", "invalid_mbid_listens", None, 200, None,
     [("The Black Keys", "Sister", "El Camino", "2017-02-07T11:29:52Z"),
      ("Kanye West", "Fade", "The Life of Pablo", "2017-02-07T11:29:06Z")]),
]


@pytest.mark.parametrize("name, payload_file, mutate, status, error, stored", CASES, ids=[c[0] for c in CASES])
def test_upstream_submission_case(client, name, payload_file, mutate, status, error, stored):
    payload = load(payload_file)
    if mutate:
        mutate(payload)
    response = send(client, payload)
    body = response.get_json()
    assert (response.status_code, body["code"] if status != 200 else body) == (
        status, 400 if status != 200 else {"status": "ok"})
    if error is not None:
        assert body["error"] == error
    assert journal(client) == stored


@pytest.mark.backend_independent
def test_invalid_duration_ms_too_large(client):
    payload = load("invalid_duration")
    del payload["payload"][0]["track_metadata"]["additional_info"]["duration"]
    payload["payload"][0]["track_metadata"]["additional_info"]["duration_ms"] = 53450290000
    response = send(client, payload)
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "Value for duration_ms is too large, max permitted value is 2073600000"})


def test_nan_in_json(client):
    response = client.post("/1/submit-listens", data=(DATA / "invalid_listen_nan_in_json.json").read_bytes(),
                           headers=LB)
    # Python's json reads NaN where orjson (upstream) does not; the listen is refused either way (its listened_at).
    assert response.status_code == 400
    assert journal(client) == []


@pytest.mark.backend_independent
def test_too_large_listen(client):
    payload = load("too_large_listen")
    response = send(client, payload)
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "JSON document is too large. Each listens may not be larger than 10240 bytes."})
    payload["payload"] = payload["payload"] * 300
    response = send(client, payload)
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "Payload too large. Payload cannot exceed 10240000 bytes"})


@pytest.mark.backend_independent
@pytest.mark.parametrize("listen_type", ["single", "playing_now", "import"])
def test_zero_listens_payload_and_payload_is_not_list(client, listen_type):
    response = send(client, {"listen_type": listen_type, "payload": []})
    assert (response.status_code, response.get_json()["code"]) == (400, 400)
    response = send(client, {"listen_type": listen_type, "payload": {}})
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "The payload in the JSON document should be a list of listens."})


@pytest.mark.backend_independent
@pytest.mark.parametrize("data", [1, False, None, [2, 3], "foobar"])
def test_top_level_json_is_not_dict(client, data):
    response = send(client, data)
    assert (response.status_code, response.get_json()) == (400, {
        "code": 400, "error": "Invalid JSON document submitted. Top level of JSON document should be a json object."})


def test_unauthorized_submission(client):
    payload = load("valid_single")
    response = client.post("/1/submit-listens", data=json.dumps(payload), content_type="application/json")
    assert (response.status_code, response.get_json()["code"]) == (401, 401)
    response = client.post("/1/submit-listens", data=json.dumps(payload), content_type="application/json",
                           headers={"Authorization": "Token testtokenplsignore"})
    assert (response.status_code, response.get_json()["code"]) == (401, 401)
    assert journal(client) == []


def test_empty_release_name_stripped(client):
    payload = load("valid_single")
    payload["payload"][0]["track_metadata"]["release_name"] = "   "
    stamp = int(time.time())
    payload["payload"][0]["listened_at"] = stamp
    assert send(client, payload).status_code == 200
    listens = client.get("/1/user/aime/listens?count=1").get_json()["payload"]["listens"]
    assert "release_name" not in listens[0]["track_metadata"]
    assert journal(client) == [("Kanye West", "Fade", None, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)))]


def test_valid_playing_now(client):
    response = send(client, load("valid_playing_now"), return_msid="true")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
    uuid.UUID(response.get_json()["recording_msid"])
    assert client.get("/1/user/aime/playing-now").get_json()["payload"]["count"] == 1
    assert journal(client) == []


@pytest.mark.parametrize("payload_file", ["playing_now_with_duration", "playing_now_with_duration_ms"])
def test_playing_now_with_duration_expires(client, payload_file):
    start = time.time()
    with time_machine.travel(start, tick=False) as clock:
        assert send(client, load(payload_file)).status_code == 200
        payload = client.get("/1/user/aime/playing-now").get_json()["payload"]
        assert (payload["count"], payload["listens"][0]["track_metadata"]["track_name"]) == (1, "Fade")
        clock.shift(1.1)  # upstream sleeps 1.1 s; the clock is moved instead
        assert client.get("/1/user/aime/playing-now").get_json()["payload"]["count"] == 0


@pytest.mark.backend_independent
def test_get_listens_invalid_count_and_ts_order(client):
    assert client.get("/1/user/aime/listens?count=-1").status_code == 400
    assert client.get("/1/user/aime/listens?max_ts=1400000000&min_ts=1500000000").status_code == 400


def test_get_listens(client):
    """Upstream's test_get_listens, except additional_info.music_service, which AIME does not keep."""
    payload = load("valid_single")
    ts = int(time.time())
    payload["payload"][0]["listened_at"] = ts
    assert send(client, payload).get_json() == {"status": "ok"}
    data = client.get("/1/user/aime/listens?count=1").get_json()["payload"]
    assert (data["user_id"], data["count"], len(data["listens"])) == ("aime", 1, 1)
    listen = data["listens"][0]
    assert (listen["listened_at"], listen["track_metadata"]["track_name"], listen["track_metadata"]["artist_name"],
            listen["track_metadata"]["release_name"]) == (ts, "Fade", "Kanye West", "The Life of Pablo")
    uuid.UUID(listen["recording_msid"])
    assert (data["latest_listen_ts"], data["oldest_listen_ts"]) == (ts, ts)
    assert client.get(f"/1/user/aime/listens?min_ts={int(time.time())}").status_code == 200
    data = client.get(f"/1/user/aime/listens?max_ts={ts - 2}").get_json()["payload"]
    assert (data["listens"], data["latest_listen_ts"], data["oldest_listen_ts"]) == ([], ts, ts)
    data = client.get(f"/1/user/aime/listens?max_ts={ts + 1000}&min_ts={ts - 1000}").get_json()["payload"]
    assert [(x["listened_at"], x["track_metadata"]["track_name"]) for x in data["listens"]] == [(ts, "Fade")]
    assert client.get("/1/user/aime/listen-count").get_json()["payload"]["count"] == 1
    assert client.get("/1/user/sir_dumpsterfire/listen-count").status_code == 404


def test_get_listens_order(client):
    payload = load("valid_single")
    for i in range(3):
        payload["payload"][0]["listened_at"] = 1400000000 + 100 * i
        assert send(client, payload).get_json() == {"status": "ok"}
    data = client.get("/1/user/aime/listens").get_json()["payload"]
    assert (data["count"], [x["listened_at"] for x in data["listens"]]) == (3, [1400000200, 1400000100, 1400000000])
    data = client.get("/1/user/aime/listens?count=3&from_ts=1399999500").get_json()["payload"]
    assert [x["listened_at"] for x in data["listens"]] == [1400000200, 1400000100, 1400000000]
    # The same track at three instants: three plays (upstream's key is the instant, and so is AIME's for the API).
    assert len(journal(client)) == 3
