"""Web fixtures: a demo-data app served by werkzeug in a thread, and Playwright driving Debian's Chromium."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from aime import background, create_app
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, TEST_TOKEN, make_config, upgrade  # noqa: F401 (re-exported)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def closing_responses(app):
    """app, whose response bodies are closed when they are done with even if the server does not close them.

    werkzeug's dev server (3.1) closes a body only at the end of a `finally` that first drains the request's
    socket: a client resetting the connection right after the answer (Chromium cancelling a favicon.svg request
    when the page reloads) raises ConnectionResetError there, close() is skipped, and the static file's handle is
    left to the garbage collector: a ResourceWarning, an error under filterwarnings = error. Here the body is
    closed when iterated to its end, or when the server drops the generator unfinished."""

    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()

    return wsgi


class LiveServer:
    """A real HTTP server (werkzeug, threaded) around an app, on a free port of 127.0.0.1."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, closing_responses(app), threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="web-test-server", daemon=True)

    def url(self, path: str) -> str:
        """Absolute URL of a path."""
        return self.base_url + path


@pytest.fixture(scope="module")
def fake_lastfm():
    """A local HTTP server standing in for Last.fm: no new scrobbles, ever."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/2.0/").respond_with_json(
        {"recenttracks": {"track": [], "@attr": {"page": "1", "totalPages": "0", "total": "0"}}})
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory, fake_lastfm):
    """A migrated SQLite app with the demo data, a (fake) Last.fm account, its background services started."""
    from aime.services.demo import load_demo_data

    config = make_config(tmp_path_factory.mktemp("web"), service_lease_seconds=0.6,
                         lastfm_api_key="k" * 32, lastfm_user="alice",
                         lastfm_base_url=fake_lastfm.url_for("/2.0").rstrip("/"))
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    upgrade(app)
    with app.app_context():
        load_demo_data(config)
    background.start(app)
    yield app
    background.stop(app)
    from aime.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def live_server(live_app):
    """The demo app served over real HTTP for the browser."""
    server = LiveServer(live_app)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.thread.join(10)


class PageProblems:
    """Console errors, page errors and failed requests seen by a page."""

    def __init__(self, page):
        self.items: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.items.append(f"console: {msg.text}"))
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda res: res.status >= 400 and not getattr(page, "_expect_error", False)
                and self.items.append(f"HTTP {res.status}: {res.request.method} {res.url}"))

    def _failed(self, request) -> None:
        # net::ERR_ABORTED is the browser cancelling a request because the page navigated away (a form
        # submitted while the favicon was still loading): nothing failed on the server. Anything else counts.
        if request.failure == "net::ERR_ABORTED":
            return
        self.items.append(f"failed: {request.method} {request.url} {request.failure}")


@pytest.fixture
def context(browser):
    """A fresh browser context (own cookies) at desktop size, in the Zurich time zone."""
    ctx = browser.new_context(viewport=DESKTOP, timezone_id="Europe/Zurich", locale="en-GB")
    ctx.set_default_timeout(10_000)
    # A returning visitor: the page script already told the server the zone (first visits: see test_browser).
    ctx.add_cookies([{"name": "aime_tz", "value": "Europe%2FZurich", "domain": "127.0.0.1", "path": "/"}])
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    """A page whose console errors and failed requests fail the test."""
    pg = context.new_page()
    pg.problems = PageProblems(pg)
    yield pg
    assert pg.problems.items == [], "\n".join(pg.problems.items)


def sign_in(page, server: LiveServer) -> None:
    """Sign in through the form with the test API token."""
    page.goto(server.url("/login"))
    page.fill("#token", TEST_TOKEN)
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("text=Signed in.")


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot under tests/artifacts/web/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def samples_dir() -> Path | None:
    """The shared import samples (AIME_SAMPLES_DIR, ../shared/samples beside the checkout, /work/shared/samples)."""
    import os

    root = Path(__file__).resolve().parents[2]
    for candidate in (os.environ.get("AIME_SAMPLES_DIR"), root.parent / "shared" / "samples",
                      root / "shared" / "samples", "/work/shared/samples"):
        if candidate and Path(candidate, "README.md").exists():
            return Path(candidate)
    return None
