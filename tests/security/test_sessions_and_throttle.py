"""Issue 15 items 5 and 6: failed authentications are throttled per address across workers and audited;
logout and a new API token end sessions server-side."""
from __future__ import annotations

import logging
import time

import pytest
import time_machine

from tests.conftest import TEST_TOKEN
from tests.web.test_pages import csrf_of, signed_in_client

WRONG = {"Authorization": "Bearer wrong-guess-0000000000000000"}


@pytest.fixture(autouse=True)
def one_throttle_window():
    """Each test starts 1 s into a calendar minute (the clock still runs): the throttle counts per fixed minute
    (aime/services/throttle.py), so a test that crossed a minute boundary between its fifth and sixth failure
    (seen once, at 02:44:59 -> 02:45:00) found a fresh window and a 200 where it expects 429."""
    now = time.time()
    with time_machine.travel(now - now % 60 + 61, tick=True):
        yield


def test_a_cookie_captured_before_logout_is_refused_after_it(app):
    client, csrf = signed_in_client(app)
    captured = client.get_cookie("aime_session").value
    assert client.get("/collection/new").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("aime_session", captured)
    response = thief.get("/collection/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_new_api_token_ends_every_session(app, app_factory):
    client, _ = signed_in_client(app)
    captured = client.get_cookie("aime_session").value
    rotated = app_factory(app.extensions["aime.config"].replace(api_token="a-brand-new-token-" + "x9Kq2" * 4))
    rotated.config["TESTING"] = True
    other = rotated.test_client()
    other.set_cookie("aime_session", captured)
    response = other.get("/collection/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_failed_bearer_tokens_are_throttled_across_workers(app, two_processes, caplog):
    """Five wrong tokens split over two 'workers' (apps on one database): the sixth request is 429 everywhere."""
    first, second = (process.test_client() for process in two_processes)
    with caplog.at_level(logging.WARNING, logger="aime.auth"):
        for client in (first, second, first, second, first):
            assert client.post("/api/v1/collection/albums", headers=WRONG, json={}).status_code == 401
        for client in (first, second):
            refused = client.post("/api/v1/collection/albums", json={},
                                  headers={"Authorization": f"Bearer {TEST_TOKEN}"})  # even the right token
            assert refused.status_code == 429
            assert refused.mimetype == "application/problem+json"
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert refused.get_json()["title"] == "Too many requests"
    rejected = [r.getMessage() for r in caplog.records if "audit: rejected" in r.getMessage()]
    assert rejected == ["audit: rejected POST /api/v1/collection/albums from 127.0.0.1: wrong token"] * 5
    assert [r.client for r in caplog.records if "audit: throttled" in r.getMessage()] == ["127.0.0.1"] * 2


def test_validate_token_guesses_are_throttled_and_audited(client, caplog):
    with caplog.at_level(logging.WARNING, logger="aime.auth"):
        for i in range(5):
            answer = client.get(f"/1/validate-token?token=guess{i}")
            assert answer.get_json() == {"code": 200, "message": "Token invalid.", "valid": False}
    assert len([r for r in caplog.records if "/1/validate-token from 127.0.0.1: wrong token" in r.getMessage()]) == 5
    refused = client.get("/1/validate-token", headers={"Authorization": f"Token {TEST_TOKEN}"})
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert refused.get_json()["code"] == 429


def test_login_form_guesses_are_throttled(app):
    client = app.test_client()
    csrf = csrf_of(client)
    for _ in range(5):
        assert client.post("/login", data={"token": "nope", "csrf_token": csrf}).status_code == 401
    page = client.post("/login", data={"token": TEST_TOKEN, "csrf_token": csrf})
    assert page.status_code == 429 and page.headers["Retry-After"]
    assert "Too many failed authentications from this address" in page.get_data(as_text=True)


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(make_app):
    direct = make_app().test_client()
    # An untrusted peer cannot dodge the limit by inventing addresses.
    for i in range(5):
        assert direct.get("/1/validate-token?token=x", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code == 200
    assert direct.get("/1/validate-token?token=x", headers={"X-Forwarded-For": "10.0.0.99"}).status_code == 429

    proxied = make_app(trusted_proxies=("127.0.0.1",)).test_client()
    for _ in range(5):
        proxied.get("/1/validate-token?token=x", headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.get("/1/validate-token?token=x", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    # Another client behind the same proxy has its own budget; a spoofed left-most hop is not the address.
    assert proxied.get("/1/validate-token?token=x",
                       headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.2"}).status_code == 200


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not-an-ip"])
def test_bad_trusted_proxies_setting_is_refused(tmp_path, value):
    from aime.config import Config, ConfigError

    with pytest.raises(ConfigError, match=f"AIME_TRUSTED_PROXIES contains '{value}'"):
        Config.from_env({"AIME_DATA_DIR": str(tmp_path), "AIME_TRUSTED_PROXIES": value})


def test_one_request_counts_one_failure_even_when_the_token_is_asked_twice(make_app):
    """Private /health asks twice (details, summary): five wrong tries are five failures, the sixth is 429."""
    client = make_app(private=True).test_client()
    assert [client.get("/health", headers=WRONG).status_code for _ in range(5)] == [200] * 5
    assert client.get("/health", headers=WRONG).status_code == 429


def test_last_fm_password_guesses_are_throttled_and_audited(client, caplog):
    """The Last.fm sign-in (password = API token) and the 1.2 handshake count against the same budget."""
    import time

    from aime.services.audioscrobbler import md5

    with caplog.at_level(logging.WARNING, logger="aime.auth"):
        for i in range(4):
            answer = client.post("/2.0/", data={"method": "auth.getMobileSession", "username": "aime",
                                                "password": f"guess{i}", "format": "json"})
            assert (answer.status_code, answer.get_json()["error"]) == (403, 4)
        stamp = str(int(time.time()))
        assert client.get(f"/?hs=true&p=1.2&u=aime&t={stamp}&a={md5(md5('guess') + stamp)}").data == b"BADAUTH\n"
    audited = [r.getMessage() for r in caplog.records if "audit: rejected" in r.getMessage()]
    assert len(audited) == 5 and all("from 127.0.0.1" in line for line in audited)
    refused = client.post("/2.0/", data={"method": "auth.getMobileSession", "username": "aime",
                                         "password": TEST_TOKEN, "format": "json"})
    assert (refused.status_code, refused.get_json()["error"]) == (429, 29)
    stamp = str(int(time.time()))
    handshake = client.get(f"/?hs=true&p=1.2&u=aime&t={stamp}&a={md5(md5(TEST_TOKEN) + stamp)}")
    assert handshake.status_code == 429 and handshake.data.startswith(b"FAILED Too many failed authentications")
