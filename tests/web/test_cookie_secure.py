"""Signing in on a home network over plain http (issue 14, item 14): the session cookie is Secure exactly
when the request came over https (directly or through a trusted proxy), and a form posted without the session
cookie says why on the page."""
from __future__ import annotations

import os
import re

import pytest
import requests

from aime.config import Config, ConfigError
from aime.web.cookies import NO_COOKIE_CSRF_MESSAGE
from tests.conftest import TEST_TOKEN
from tests.support.servers import gunicorn

from .conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


def _sign_in(client, base_url: str):
    token = CSRF_META.search(client.get("/login", base_url=base_url).get_data(as_text=True)).group(1)
    return client.post("/login", data={"token": TEST_TOKEN, "csrf_token": token}, base_url=base_url)


@pytest.mark.parametrize("raw, mode", [(None, "auto"), ("auto", "auto"), ("1", "always"), ("always", "always"),
                                       ("0", "never"), ("never", "never"), ("FALSE", "never")])
def test_setting_values(tmp_path, raw, mode):
    env = {"AIME_DATA_DIR": str(tmp_path)}
    if raw is not None:
        env["AIME_SESSION_COOKIE_SECURE"] = raw
    assert Config.from_env(env).session_cookie_secure == mode


def test_a_bad_setting_stops_the_start_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="AIME_SESSION_COOKIE_SECURE='maybe' must be one of auto, always, never"):
        Config.from_env({"AIME_DATA_DIR": str(tmp_path), "AIME_SESSION_COOKIE_SECURE": "maybe"})


@pytest.mark.parametrize("mode, over_http, over_https", [("auto", False, True), ("always", True, True),
                                                         ("never", False, False)])
def test_secure_flag_per_request(make_app, mode, over_http, over_https):
    app = make_app(session_cookie_secure=mode)
    for base_url, expected in (("http://nas.local:8000", over_http), ("https://nas.local", over_https)):
        response = _sign_in(app.test_client(), base_url)
        assert response.status_code == 302
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("aime_session=") and "HttpOnly" in cookie
        assert ("; Secure" in cookie) is expected, (mode, base_url, cookie)


def test_a_form_without_the_session_cookie_says_why(client):
    response = client.post("/login", data={"token": TEST_TOKEN, "csrf_token": "anything"})
    assert response.status_code == 400
    assert NO_COOKIE_CSRF_MESSAGE in response.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # now the browser holds a session cookie ...
    stale = client.post("/login", data={"token": TEST_TOKEN, "csrf_token": "forged"})
    page = stale.get_data(as_text=True)  # ... and a wrong token is the other message
    assert stale.status_code == 400 and "The form expired or did not come from this site" in page
    assert NO_COOKIE_CSRF_MESSAGE not in page


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("trusted", [True, False])
def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(tmp_path, trusted):
    """Under gunicorn: a proxy on 127.0.0.1 (trusted by default) saying https gets a Secure cookie; when only
    another address is trusted (FORWARDED_ALLOW_IPS), the same header from 127.0.0.1 changes nothing."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "SENTRY_DSN",
                                                            "PROMETHEUS_MULTIPROC_DIR", "AIME_DATA_DIR",
                                                            "FORWARDED_ALLOW_IPS")}
    env.update({"AIME_DATA_DIR": str(tmp_path / "data"), "AIME_API_TOKEN": TEST_TOKEN, "AIME_WORKERS": "1",
                "AIME_THREADS": "2", "AIME_LOG_LEVEL": "warning", "AIME_GRACEFUL_TIMEOUT": "3"})
    if not trusted:
        env["FORWARDED_ALLOW_IPS"] = "10.9.9.9"
    (tmp_path / "data").mkdir()
    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        for proto in ("http", "https"):
            browser = requests.Session()
            browser.headers["X-Forwarded-Proto"] = proto
            page = browser.get(server.url("/login"), timeout=10)
            assert ("; Secure" in page.headers["Set-Cookie"]) is (trusted and proto == "https")
            plain = requests.get(server.url("/login"), timeout=10)  # no proxy header: plain http
            assert "; Secure" not in plain.headers["Set-Cookie"]


@pytest.fixture(scope="module")
def lan_browser(browser):
    """Chromium resolving aime.test to 127.0.0.1: a host name that is not localhost, traffic on loopback.
    Launched by the session's Playwright (one sync Playwright per process)."""
    chromium = browser.browser_type.launch(executable_path=str(CHROMIUM),
                                           args=CHROMIUM_ARGS + ["--host-resolver-rules=MAP aime.test 127.0.0.1"])
    yield chromium
    chromium.close()


@pytest.fixture
def lan_site(make_app, request):
    """An app served over real HTTP, reached by the browser as http://aime.test:<port>/."""
    server = LiveServer(make_app(session_cookie_secure=request.param))
    server.thread.start()
    yield f"http://aime.test:{server.server.server_port}"
    server.server.shutdown()
    server.thread.join(10)


@pytest.mark.parametrize("lan_site", ["auto"], indirect=True)
def test_browser_signs_in_over_plain_http_on_a_lan_name(lan_browser, lan_site):
    context = lan_browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(lan_site + "/login")
    page.fill("#token", TEST_TOKEN)
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("text=Signed in.")
    session = [c for c in context.cookies() if c["name"] == "aime_session"]
    assert len(session) == 1 and session[0]["secure"] is False and session[0]["domain"] == "aime.test"
    page.goto(lan_site + "/collection/new")  # a form after sign-in passes its CSRF check too
    page.fill("#title", "Moon Safari")
    page.fill("#artists", "Air")
    page.click("form button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/collection/\d+$"))
    assert page.locator("h1").inner_text() == "Moon Safari"
    context.close()


@pytest.mark.parametrize("lan_site", ["always"], indirect=True)
def test_browser_told_why_when_a_forced_secure_cookie_is_dropped(lan_browser, lan_site):
    context = lan_browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(lan_site + "/login")
    page.fill("#token", TEST_TOKEN)
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("text=Your browser sent no session cookie back")
    assert "AIME_SESSION_COOKIE_SECURE=always" in page.locator("main").inner_text()
    # Chromium dropped the Secure cookie of an http origin (the page script's time-zone cookie stays).
    assert [c["name"] for c in context.cookies()] == ["aime_tz"]
    context.close()
