"""ListenBrainz-compatible API, driven by the real liblistenbrainz client against a served app."""
from __future__ import annotations

import time

import liblistenbrainz
import pytest
from liblistenbrainz.errors import ListenBrainzAPIException
from sqlalchemy import func, select

from aime.extensions import db
from aime.models import Listen, ServiceState
from tests.conftest import TEST_TOKEN

LB = {"Authorization": f"Token {TEST_TOKEN}"}


def _listen(title: str, at: int | None, artist: str = "Radiohead", album: str | None = "OK Computer"):
    return liblistenbrainz.Listen(track_name=title, artist_name=artist, release_name=album, listened_at=at,
                                  additional_info={"submission_client": "pytest"})


def test_liblistenbrainz_single_and_import_show_in_the_journal(server, client):
    lb = liblistenbrainz.ListenBrainz()
    lb.api_base_url = server
    lb.set_auth_token(TEST_TOKEN)  # validates the token against /1/validate-token
    now = int(time.time())
    assert lb.submit_single_listen(_listen("Airbag", now - 600)) == {"status": "ok"}
    batch = [_listen("Paranoid Android", now - 3000), _listen("Karma Police", now - 2000),
             _listen("Jóga", now - 1000, artist="Björk", album=None)]
    assert lb.submit_multiple_listens(batch) == {"status": "ok"}
    assert lb.submit_multiple_listens(batch) == {"status": "ok"}  # resent: no duplicates
    journal = client.get("/api/v1/history/tracks?page_size=10").get_json()
    assert [(i["artist"], i["title"], i["album"], i["played_at"]) for i in journal["items"]] == [
        ("Radiohead", "Airbag", "OK Computer", _iso(now - 600)),
        ("Björk", "Jóga", None, _iso(now - 1000)),
        ("Radiohead", "Karma Police", "OK Computer", _iso(now - 2000)),
        ("Radiohead", "Paranoid Android", "OK Computer", _iso(now - 3000))]
    assert {i["source"] for i in journal["items"]} == {"listenbrainz"}


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def test_playing_now_is_kept_as_now_playing_not_a_listen(app, server):
    lb = liblistenbrainz.ListenBrainz()
    lb.api_base_url = server
    lb.set_auth_token(TEST_TOKEN, check_validity=False)
    assert lb.submit_playing_now(_listen("Lucky", None)) == {"status": "ok"}
    with app.app_context():
        state = db.session.get(ServiceState, "now_playing")
        assert (state.state["artist"], state.state["title"], state.state["album"]) == ("Radiohead", "Lucky",
                                                                                         "OK Computer")
        assert db.session.scalar(select(func.count(Listen.id))) == 0


def test_wrong_token_is_refused_the_listenbrainz_way(server):
    lb = liblistenbrainz.ListenBrainz()
    lb.api_base_url = server
    with pytest.raises(liblistenbrainz.errors.InvalidAuthTokenException):
        lb.set_auth_token("not-the-token")
    lb.set_auth_token("not-the-token", check_validity=False)
    with pytest.raises(ListenBrainzAPIException) as caught:
        lb.submit_single_listen(_listen("Airbag", int(time.time())))
    assert (caught.value.status_code, caught.value.message) == (401, "Invalid authorization token.")


def test_validate_token_answers(client):
    assert client.get("/1/validate-token", headers=LB).get_json() == {
        "code": 200, "message": "Token valid.", "valid": True, "user_name": "aime"}
    assert client.get("/1/validate-token?token=nope").get_json() == {
        "code": 200, "message": "Token invalid.", "valid": False}
    response = client.get("/apis/listenbrainz/1/validate-token")
    assert (response.status_code, response.get_json()) == (
        400, {"code": 400, "error": "You need to provide an Authorization token."})


def _single(**listen):
    return {"listen_type": "single", "payload": [listen]}


GOOD_META = {"artist_name": "Radiohead", "track_name": "Airbag"}


@pytest.mark.parametrize("body, error", [
    ("{not json", "Cannot parse JSON document"),
    ({"payload": []}, "JSON document does not contain any listens"),
    ({"payload": [{}]}, "Invalid JSON document submitted."),
    ({"listen_type": "loop", "payload": [{}]}, "JSON document requires a valid listen_type key."),
    ({"listen_type": "import", "payload": {}}, "The payload in the JSON document should be a list of listens."),
    ({"listen_type": "import", "payload": []}, "JSON document does not contain any listens"),
    ({"listen_type": "single", "payload": [{}, {}]},
     "JSON document contains more than listen for a single/playing_now."),
    (_single(track_metadata=GOOD_META), "JSON document must contain the key listened_at at the top level."),
    (_single(listened_at="yesterday", track_metadata=GOOD_META), "must contain an int value for listened_at"),
    (_single(listened_at=1000, track_metadata=GOOD_META), "Value for key listened_at is too low"),
    (_single(listened_at=1699650251), "must contain the key track_metadata at the top level."),
    (_single(listened_at=1699650251, track_metadata={"artist_name": "Radiohead"}),
     "JSON document does not contain required field track_metadata.track_name."),
    (_single(listened_at=1699650251, track_metadata={"artist_name": "A\u0000B", "track_name": "T"}),
     "A\u0000B contains a unicode null"),
    ({"listen_type": "playing_now", "payload": [{"listened_at": 1699650251, "track_metadata": GOOD_META}]},
     "must not contain listened_at while submitting playing_now."),
    ({"listen_type": "import", "payload": [{"listened_at": 1699650251 + i, "track_metadata": GOOD_META}
                                           for i in range(1001)]}, "Too many listens."),
])
def test_bad_submissions_get_listenbrainz_errors_and_store_nothing(client, count_listens_api, body, error):
    import json

    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post("/apis/listenbrainz/1/submit-listens", data=data, headers=LB)
    payload = response.get_json()
    assert response.status_code == 400 and payload["code"] == 400
    assert payload["error"].startswith(error) or error in payload["error"], payload
    assert count_listens_api() == 0


def test_missing_authorization_header(client):
    response = client.post("/1/submit-listens", json=_single(listened_at=1699650251, track_metadata=GOOD_META))
    assert (response.status_code, response.get_json()) == (
        401, {"code": 401, "error": "You need to provide an Authorization header."})


def test_import_of_1000_listens_is_accepted_and_deduplicated_exactly(client, count_listens_api):
    body = {"listen_type": "import", "payload": [
        {"listened_at": 1699650251 + 300 * i, "track_metadata": {"artist_name": "Artist", "track_name": f"T{i % 7}"}}
        for i in range(1000)]}
    assert client.post("/1/submit-listens", json=body, headers=LB).get_json() == {"status": "ok"}
    assert client.post("/1/submit-listens", json=body, headers=LB).get_json() == {"status": "ok"}  # resent
    assert count_listens_api() == 1000
    # 30 s later is another play for an API client (exact timestamps): only an equal listened_at is the same play.
    body["payload"] = [dict(p, listened_at=p["listened_at"] + 30) for p in body["payload"]]
    assert client.post("/1/submit-listens", json=body, headers=LB).status_code == 200
    assert count_listens_api() == 2000


@pytest.fixture
def count_listens_api(app):
    def count() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count(Listen.id)))
    return count
