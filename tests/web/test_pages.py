"""The pages through Flask's test client: rendering, sign-in, CSRF, private mode, the forms' effects."""
from __future__ import annotations

import re

import pytest

from aime import create_app
from tests.conftest import TEST_TOKEN, make_config

READ_PAGES = ["/", "/collection", "/journal", "/timeline", "/timeline?date=2024-03-31", "/stats", "/playlists",
              "/imports", "/services", "/status", "/login"]


def csrf_of(client, path="/login") -> str:
    """The CSRF token a page carries."""
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def signed_in_client(app):
    """A test client signed in with the API token; returns (client, csrf token)."""
    client = app.test_client()
    token = csrf_of(client)
    response = client.post("/login", data={"token": TEST_TOKEN, "csrf_token": token})
    assert response.status_code == 302
    return client, csrf_of(client, "/")


def add_album(client, csrf, **fields):
    data = {"title": "Blue Train", "artists": "John Coltrane", "year": "1957", "support": "Vinyle",
            "tracks": "Blue Train | 10:43\nMoment's Notice | 9:10\n\nLocomotion", "csrf_token": csrf}
    data.update(fields)
    return client.post("/collection/new", data=data)


def test_read_pages_render_on_an_empty_database(client):
    for path in READ_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/html"
        assert "<h1" in response.get_data(as_text=True), path


def test_unknown_album_is_a_404_page(client):
    response = client.get("/collection/4242")
    assert response.status_code == 404
    assert "Album 4242 does not exist." in response.get_data(as_text=True)


def test_bad_query_is_a_422_page_naming_the_field(client):
    response = client.get("/journal?page=zero")
    assert response.status_code == 422
    assert "page" in response.get_data(as_text=True)


def test_sign_in_sets_a_secure_httponly_cookie_and_wrong_token_is_refused(app):
    client = app.test_client()
    html = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    wrong = client.post("/login", data={"token": "nope", "csrf_token": token}, base_url="https://localhost")
    assert wrong.status_code == 401
    assert "That is not the API token." in wrong.get_data(as_text=True)
    right = client.post("/login", data={"token": TEST_TOKEN, "csrf_token": token, "next": "/journal"},
                        base_url="https://localhost")
    assert right.status_code == 302 and right.headers["Location"] == "/journal"
    cookie = right.headers["Set-Cookie"]
    assert cookie.startswith("aime_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in cookie
    assert TEST_TOKEN not in cookie


def test_sign_in_never_redirects_off_site(app):
    client = app.test_client()
    token = csrf_of(client)
    response = client.post("/login", data={"token": TEST_TOKEN, "csrf_token": token, "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


def test_post_without_csrf_token_is_refused_and_changes_nothing(app):
    client, _csrf = signed_in_client(app)
    response = add_album(client, "forged")
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert "Blue Train" not in client.get("/collection").get_data(as_text=True)


def test_writes_need_sign_in(app):
    client = app.test_client()
    csrf = csrf_of(client)
    response = add_album(client, csrf)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "Blue Train" not in client.get("/collection").get_data(as_text=True)


def test_add_album_form_creates_the_album_with_its_tracks(app):
    client, csrf = signed_in_client(app)
    response = add_album(client, csrf, labels="Blue Note, Blue Note Records")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added “Blue Train” to the collection." in page
    # 10:43 = 643 s, 9:10 = 550 s; the blank line is skipped; Locomotion has no length.
    assert re.findall(r'<li value="(\d)"><span>([^<]+)</span><span class="muted">([^<]+)</span>', page) == [
        ("1", "Blue Train", "10:43"), ("2", "Moment&#39;s Notice", "9:10"), ("3", "Locomotion", "—")]
    assert "Blue Note, Blue Note Records" in page


def test_add_album_with_bad_year_shows_the_error_and_keeps_the_input(app):
    client, csrf = signed_in_client(app)
    response = add_album(client, csrf, year="nineteen")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "year: Not a valid integer." in html
    assert 'value="Blue Train"' in html
    assert "Blue Train" not in client.get("/collection").get_data(as_text=True)


def test_same_album_twice_is_a_conflict_message(app):
    client, csrf = signed_in_client(app)
    add_album(client, csrf)
    again = add_album(client, csrf, title="blue train")
    assert again.status_code == 409
    assert "is already in the collection" in again.get_data(as_text=True)


def test_played_this_record_adds_one_play_per_track_then_love_toggles(app):
    client, csrf = signed_in_client(app)
    location = add_album(client, csrf).headers["Location"]
    album_id = int(location.rsplit("/", 1)[1])
    played = client.post(f"/collection/{album_id}/play", data={"csrf_token": csrf})
    assert played.status_code == 302
    page = client.get(location).get_data(as_text=True)
    assert "Recorded 3 plays of this record." in page
    assert re.search(r"data-play-count>3<", page)
    journal = client.get("/journal").get_data(as_text=True)
    track_id = int(re.search(r'action="/tracks/(\d+)/love"', journal).group(1))
    loved = client.post(f"/tracks/{track_id}/love", headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    assert loved.get_json() == {"track_id": track_id, "loved": True}
    unloved = client.post(f"/tracks/{track_id}/love", data={"csrf_token": csrf})
    assert unloved.status_code == 302
    assert client.post("/tracks/999999/love", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
                       ).status_code == 404


def test_sign_out_ends_the_session(app):
    client, csrf = signed_in_client(app)
    client.post("/logout", data={"csrf_token": csrf})
    assert add_album(client, csrf_of(client)).status_code == 302


@pytest.fixture
def private_app(make_app):
    return make_app(private=True)


def test_private_mode_sends_readers_to_sign_in(private_app):
    client = private_app.test_client()
    response = client.get("/journal?artist=x")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/journal?artist%3Dx"
    assert client.get("/login").status_code == 200
    with client.get("/static/web/aime.css") as css:
        assert css.status_code == 200
    signed, _ = signed_in_client(private_app)
    assert signed.get("/journal").status_code == 200


def test_secret_key_is_generated_lazily_and_not_from_the_token(tmp_path):
    config = make_config(tmp_path)
    application = create_app(config)
    assert not application.secret_key  # create_app reads no token file
    client = application.test_client()
    client.get("/static/web/aime.css").close()
    assert not application.secret_key  # a cookie-less request needs no secret
    with application.test_request_context("/login"):
        from flask import session

        session["x"] = 1
        application.session_interface.get_signing_serializer(application)
    stored = (config.data_dir / "session_secret").read_text().strip()
    assert application.secret_key == stored and TEST_TOKEN not in stored  # see tests/security


def test_explicit_secret_key_is_kept(tmp_path):
    config = make_config(tmp_path, secret_key="s3cret-from-env")
    application = create_app(config)
    application.session_interface.get_signing_serializer(application)
    assert application.secret_key == "s3cret-from-env"


def test_secure_flag_can_be_turned_off_for_a_plain_http_lan(tmp_path):
    from aime.config import Config

    assert Config.from_env({"AIME_DATA_DIR": str(tmp_path)}).session_cookie_secure == "auto"
    config = Config.from_env({"AIME_DATA_DIR": str(tmp_path / "d"), "AIME_API_TOKEN": TEST_TOKEN,
                              "AIME_SESSION_COOKIE_SECURE": "0"})
    config.data_dir.mkdir(parents=True)
    application = create_app(config)
    client = application.test_client()
    response = client.post("/login", data={"token": TEST_TOKEN, "csrf_token": csrf_of(client)})
    assert "Secure" not in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    https = application.test_client()
    html = https.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    response = https.post("/login", data={"token": TEST_TOKEN, "csrf_token": token}, base_url="https://localhost")
    assert "Secure" not in response.headers["Set-Cookie"]  # "0" = never, even over https
    from aime.extensions import db

    with application.app_context():
        db.engine.dispose()


def test_year_heatmap_counts_plays_per_local_day(app, db):
    """Two plays late on 9 March (UTC) fall on 10 March in Zurich; one on 11 March."""
    from aime.services.history import record_listen
    from aime.web import panels

    config = app.extensions["aime.config"]
    with app.test_request_context("/timeline"):
        # 23:20 and 23:30 UTC on 9 March; 10:00 on 11 March
        for title, when in (("A", 1710026400), ("B", 1710027000), ("C", 1710151200)):
            record_listen(config, {"artist": "X", "title": title, "played_at": when})
        from datetime import date

        counts = panels.day_counts(date(2024, 3, 1), date(2024, 3, 31), "Europe/Zurich")
    assert dict(counts) == {date(2024, 3, 10): 2, date(2024, 3, 11): 1}


def test_a_failing_page_shows_a_page_without_internals(app, monkeypatch):
    import sqlalchemy.exc

    from aime.services import stats

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(stats, "history_stats", broken)
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "secret internals" not in response.get_data(as_text=True)

    def db_down(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(stats, "history_stats", db_down)
    response = client.get("/")
    assert response.status_code == 503
    assert "Database unavailable" in response.get_data(as_text=True)
    assert "connection refused" not in response.get_data(as_text=True)


def test_album_links_are_only_http(app, db):
    from aime.services.collection import _create_album
    from aime.database import run_write

    with app.test_request_context("/"):
        album_id = run_write(_create_album, {"title": "Odd", "artists": ["Some One"],
                                             "spotify_url": "javascript:alert(1)",
                                             "discogs_url": "https://www.discogs.com/release/1"}, "import")
    html = app.test_client().get(f"/collection/{album_id}").get_data(as_text=True)
    assert "javascript:" not in html
    assert 'href="https://www.discogs.com/release/1"' in html


@pytest.fixture
def upload_app(make_app):
    return make_app(max_body_mb=1, max_upload_mb=2)


def _multipart(csrf: str, name: str, size: int) -> tuple[bytes, str]:
    # Built by hand: the test client would spool a large body to a temporary file it never closes.
    boundary = "aimewebtestboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    body += b"x" * size + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_uploads_get_the_upload_limit_not_the_body_limit(upload_app):
    client, csrf = signed_in_client(upload_app)
    # 1.5 MB is over AIME_MAX_BODY_MB=1 but under AIME_MAX_UPLOAD_MB=2: accepted, then refused as no known format.
    body, content_type = _multipart(csrf, "junk.bin", 1_500_000)
    response = client.post("/imports", data=body, content_type=content_type)
    assert response.status_code == 302 and response.headers["Location"] == "/imports"
    page = client.get("/imports").get_data(as_text=True)
    error = re.search(r'<p class="flash error">([^<]+)</p>', page)
    assert error is not None and error.group(1).startswith("This file is not in any known format."), page
    assert "Nothing imported yet." in page
    body, content_type = _multipart(csrf, "big.bin", 2_200_000)
    too_big = client.post("/imports", data=body, content_type=content_type)
    assert too_big.status_code == 413
    assert "Request Entity Too Large" in too_big.get_data(as_text=True)
    assert client.post("/imports", data={"csrf_token": csrf}).status_code == 302  # no file: a message, no job


def test_the_sign_in_link_on_the_sign_in_page_keeps_its_destination(client):
    """Each click on "Sign in" while on /login nested the page in next= (/login?next=/login?next=...) until 414."""
    assert re.findall(r'href="(/login[^"]*)">Sign in<', client.get("/stats").get_data(as_text=True)) == [
        "/login?next=/stats"]
    html = client.get("/login?next=/stats").get_data(as_text=True)
    assert re.findall(r'href="(/login[^"]*)">Sign in<', html) == ["/login?next=/stats"]
    assert re.findall(r'href="(/login[^"]*)">Sign in<', client.get("/login").get_data(as_text=True)) == ["/login"]
