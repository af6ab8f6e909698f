"""Issue 15 items 1 and 7 (and #14's newline in ?next=): the session secret, weak tokens, open redirects."""
from __future__ import annotations

import hashlib
import hmac
import logging
import stat

import pytest
from itsdangerous import BadSignature, URLSafeTimedSerializer
from flask.sessions import SecureCookieSessionInterface

from aime.health.validation import validate_app
from tests.conftest import TEST_TOKEN
from tests.web.test_pages import csrf_of, signed_in_client


def _serializer(secret: str) -> URLSafeTimedSerializer:
    """Flask's own cookie serializer for a given secret (what an attacker would run offline)."""
    interface = SecureCookieSessionInterface()
    return URLSafeTimedSerializer(secret, salt=interface.salt, serializer=interface.serializer,
                                  signer_kwargs={"key_derivation": interface.key_derivation,
                                                 "digest_method": interface.digest_method})


def test_anonymous_cookie_does_not_verify_with_a_key_derived_from_the_token(app):
    """The attack: take the cookie GET /login hands out and test token guesses against its signature."""
    client = app.test_client()
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    old_derivation = hmac.new(TEST_TOKEN.encode(), b"aime-web-session-v1", hashlib.sha256).hexdigest()
    for candidate in (old_derivation, TEST_TOKEN):
        with pytest.raises(BadSignature):
            _serializer(candidate).loads(cookie)
    secret_file = app.extensions["aime.config"].data_dir / "session_secret"
    secret = secret_file.read_text().strip()
    assert len(secret) == 43 and TEST_TOKEN not in secret
    assert "csrf_token" in _serializer(secret).loads(cookie)  # the stored random secret is the one in use
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_session_secret_survives_a_restart_and_secret_key_wins(make_app, app_factory):
    first = make_app()
    client, _ = signed_in_client(first)
    # Another process on the same data dir reads the same stored secret: the sign-in still holds.
    again = app_factory(first.extensions["aime.config"])
    again.config["TESTING"] = True
    again_client = again.test_client()
    again_client.set_cookie("aime_session", client.get_cookie("aime_session").value)
    assert again_client.get("/collection/new").status_code == 200
    explicit = make_app(secret_key="from-the-environment-0123456789abcdef")
    explicit.session_interface.get_signing_serializer(explicit)
    assert explicit.secret_key == "from-the-environment-0123456789abcdef"


@pytest.mark.parametrize("token, expected", [
    ("short-token", "WARNING: AIME_API_TOKEN has 11 characters; use at least 32 random ones"),
    ("a" * 40, "WARNING: AIME_API_TOKEN looks guessable"),
    ("password" + "1234567890" * 3, "WARNING: AIME_API_TOKEN looks guessable"),
])
def test_validate_warns_about_a_weak_token(make_app, token, expected, caplog):
    application = make_app(api_token=token)
    with caplog.at_level(logging.WARNING, logger="aime.health.validation"):
        steps = validate_app(application)
    configuration = next(step for step in steps if step.name == "configuration")
    assert configuration.ok is True
    assert expected in configuration.message
    assert any(expected.removeprefix("WARNING: ") in record.getMessage() for record in caplog.records)


def test_a_strong_token_gets_no_warning(make_app):
    application = make_app(api_token="Zx81-" + "q7Lm2Np9Rt4Vw6Yb3Kd8Hf1Jg5Sc0Xa")
    configuration = next(step for step in validate_app(application) if step.name == "configuration")
    assert "WARNING" not in configuration.message


@pytest.mark.parametrize("target", [
    "/%09/evil.example/phish", "/%0a/evil.example/phish", "/%0d%0a/evil.example", "//evil.example/x",
    "/\\evil.example/x", "/%5Cevil.example", "https://evil.example/", "/journal%0aSet-Cookie:x=1",
])
def test_sign_in_redirects_only_to_same_origin_paths(app, target):
    client = app.test_client()
    page = client.get(f"/login?next={target}")
    assert page.status_code == 200  # a newline in next= was a 500 (werkzeug refuses it in Location)
    response = client.post(f"/login?next={target}", data={"token": TEST_TOKEN, "csrf_token": csrf_of(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_follows_a_local_next(app):
    client = app.test_client()
    response = client.post("/login?next=/journal%3Fpage%3D2",
                           data={"token": TEST_TOKEN, "csrf_token": csrf_of(client)})
    assert response.headers["Location"] == "/journal?page=2"


def test_love_toggle_ignores_a_referer_pointing_off_site(app, auth):
    client = app.test_client()
    track = app.test_client().post("/api/v1/history/tracks", headers=auth, json={
        "artist": "A", "title": "T", "played_at": "2024-01-01T10:00:00Z"}).get_json()["track_id"]
    client, csrf = signed_in_client(app)
    for referer in ("http://localhost//evil.example/phish", "http://localhost/\\evil.example"):
        response = client.post(f"/tracks/{track}/love", data={"csrf_token": csrf}, headers={"Referer": referer})
        assert response.status_code == 302
        assert response.headers["Location"] == "/journal"
    kept = client.post(f"/tracks/{track}/love", data={"csrf_token": csrf},
                       headers={"Referer": "http://localhost/journal?page=3"})
    assert kept.headers["Location"] == "/journal?page=3"
