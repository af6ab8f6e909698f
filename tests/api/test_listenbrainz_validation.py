"""submit-listens validates as upstream ListenBrainz does (views/api_tools.py): what it refuses, what it keeps."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from aime.extensions import db
from aime.models import Listen
from tests.conftest import TEST_TOKEN

LB = {"Authorization": f"Token {TEST_TOKEN}", "Content-Type": "application/json"}
AT = 1699650251
META = {"artist_name": "Radiohead", "track_name": "Airbag"}
UUID = "2f3d422f-8890-41a1-9762-fbe16f107c31"


def _single(listen: dict) -> dict:
    return {"listen_type": "single", "payload": [listen]}


def _info(**info) -> dict:
    return _single({"listened_at": AT, "track_metadata": {**META, "additional_info": info}})


def _journal(client) -> list[tuple]:
    items = client.get("/api/v1/history/tracks?page_size=100").get_json()["items"]
    return [(i["artist"], i["title"], i["album"], i["played_at"]) for i in items]


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Listen.id)))


REFUSED = [
    ("51 tags", _info(tags=[f"t{i}" for i in range(51)]),
     "JSON document may not contain more than 50 items in track_metadata.additional_info.tags."),
    ("a 65-character tag", _info(tags=["x" * 65]),
     "JSON document may not contain track_metadata.additional_info.tags longer than 64 characters."),
    ("invalid release MBID", _info(release_mbid="not-a-uuid"), "release_mbid MBID format invalid."),
    ("invalid recording MBID", _info(recording_mbid="1234"), "recording_mbid MBID format invalid."),
    ("invalid artist MBID", _info(artist_mbids=[UUID, "nope"]), "artist_mbids MBID format invalid."),
    ("duration and duration_ms", _info(duration=200, duration_ms=200000),
     "JSON document should not contain both duration and duration_ms."),
    ("null duration", _info(duration=None), "Value for duration is invalid, should be a positive integer."),
    ("zero duration", _info(duration=0), "Value for duration is invalid, should be a positive integer."),
    ("negative duration_ms", _info(duration_ms=-5), "Value for duration_ms is invalid, should be a positive integer."),
    ("absurd duration", _info(duration=5345029000), "Value for duration is too large, max permitted value is 2073600"),
    ("extra top-level key", _single({"listened_at": AT, "track_metadata": META, "user_name": "x"}),
     "JSON document may only contain listened_at and track_metadata top level keys"),
    ("NUL in additional_info", _info(media_player="V\u0000LC"), "V\u0000LC contains a unicode null"),
    ("NUL in a tag", _info(tags=["ro\u0000ck"]), "ro\u0000ck contains a unicode null"),
    ("null track_metadata", _single({"listened_at": AT, "track_metadata": None}),
     "JSON document may not have track_metadata with null value."),
    ("empty track_name", _single({"listened_at": AT, "track_metadata": {**META, "track_name": "  "}}),
     "field track_metadata.track_name is empty."),
    ("track_name not a string", _single({"listened_at": AT, "track_metadata": {**META, "track_name": 3}}),
     "track_metadata.track_name must be a single string."),
    ("extra key with playing_now", {"listen_type": "playing_now", "payload": [{"track_metadata": META, "x": 1}]},
     "JSON document may only contain track_metadata as top level key when submitting playing_now."),
]


@pytest.mark.backend_independent
@pytest.mark.parametrize("case, body, error", REFUSED, ids=[c[0] for c in REFUSED])
def test_what_upstream_refuses_is_refused_with_its_message(app, client, case, body, error):
    response = client.post("/1/submit-listens", data=json.dumps(body), headers=LB)
    assert (response.status_code, response.get_json()) == (400, {"code": 400, "error": error})
    assert _count(app) == 0


def test_listened_at_two_hours_ahead_is_refused_one_minute_ahead_is_kept(app, client):
    soon = int(time.time()) + 60
    later = int(time.time()) + 2 * 3600
    response = client.post("/1/submit-listens", json=_single({"listened_at": later, "track_metadata": META}),
                           headers=LB)
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "Value for key listened_at is too high."})
    assert client.post("/1/submit-listens", json=_single({"listened_at": soon, "track_metadata": META}),
                       headers=LB).get_json() == {"status": "ok"}
    assert [row[3] for row in _journal(client)] == [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(soon))]


def test_numeric_string_and_float_listened_at_are_converted(client):
    for stamp in (str(AT), AT + 100.7):
        body = _single({"listened_at": stamp, "track_metadata": META})
        assert client.post("/1/submit-listens", json=body, headers=LB).get_json() == {"status": "ok"}
    assert [row[3] for row in _journal(client)] == ["2023-11-10T21:05:51Z", "2023-11-10T21:04:11Z"]


def test_a_long_cjk_listen_is_measured_in_utf8_bytes_and_kept(client):
    # 2,800 CJK characters: 8.4 KB of UTF-8, but 16.8 KB written as \\u escapes (what AIME measured before).
    title = "夜" * 2800
    body = json.dumps(_single({"listened_at": AT, "track_metadata": {"artist_name": "宇多田ヒカル",
                                                                       "track_name": "曲", "release_name": "盤",
                                                                       "additional_info": {"comment": title}}}),
                      ensure_ascii=False).encode("utf-8")
    assert 8000 < len(body) < 10240
    response = client.post("/1/submit-listens", data=body, headers=LB)
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert _journal(client) == [("宇多田ヒカル", "曲", "盤", "2023-11-10T21:04:11Z")]


def test_an_import_of_two_megabytes_is_accepted_up_to_upstreams_limit(app, client):
    pad = "p" * 9000  # ~9.1 KB per listen, under 10,240 bytes each
    body = {"listen_type": "import", "payload": [
        {"listened_at": AT + 60 * i, "track_metadata": {**META, "track_name": f"T{i}",
                                                         "additional_info": {"comment": pad}}}
        for i in range(230)]}
    data = json.dumps(body).encode()
    assert 2_000_000 < len(data) < 10_240_000
    response = client.post("/apis/listenbrainz/1/submit-listens", data=data, headers=LB)
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert _count(app) == 230
    too_big = b" " * (10_240_001 - len(data)) + data
    response = client.post("/1/submit-listens", data=too_big, headers=LB)
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "Payload too large. Payload cannot exceed 10240000 bytes"})


def test_names_longer_than_500_characters_are_kept_cut_to_500(client):
    body = _single({"listened_at": AT, "track_metadata": {"artist_name": "A" * 600, "track_name": "T" * 501,
                                                          "release_name": "R" * 700}})
    assert client.post("/1/submit-listens", json=body, headers=LB).get_json() == {"status": "ok"}
    assert _journal(client) == [("A" * 500, "T" * 500, "R" * 500, "2023-11-10T21:04:11Z")]


def test_empty_mbids_are_dropped_and_valid_ones_accepted(client):
    body = _info(recording_mbid="", release_mbid=None, artist_mbids=[UUID, ""], duration_ms=215000,
                 tags=["rock"] * 50, submission_client="Navidrome")
    assert client.post("/1/submit-listens", json=body, headers=LB).get_json() == {"status": "ok"}
    assert _journal(client) == [("Radiohead", "Airbag", None, "2023-11-10T21:04:11Z")]
