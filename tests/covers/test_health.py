"""Health of the enrichment sources: not shown unless configured; configured and failing warns (degraded, never 503)."""
from __future__ import annotations

from aime.health.registry import get_registry
from tests.support.servers import free_port


def run(app, name):
    """Run one checker now (bypassing the cache) and return its result."""
    return get_registry(app).results(force=True, names=[name])[name].result


def test_unconfigured_sources_are_not_shown(make_app):
    app = make_app()
    names = get_registry(app).names()
    assert "musicbrainz" not in names and "coverartarchive" not in names


def test_configured_sources_pass_when_answering_and_warn_when_failing(make_app, httpserver):
    httpserver.expect_request("/ws/2/").respond_with_data("MusicBrainz", status=200)
    httpserver.expect_request("/caa/").respond_with_data("busy", status=503)
    app = make_app(musicbrainz_contact="ops@example.org", musicbrainz_base_url=httpserver.url_for("/ws/2"),
                   coverart_base_url=httpserver.url_for("/caa"), health_check_timeout=1.0)
    musicbrainz, coverart = run(app, "musicbrainz"), run(app, "coverartarchive")
    assert (musicbrainz.status, musicbrainz.output) == ("pass", "reachable (HTTP 200)")
    assert (coverart.status, coverart.output) == ("warn", "answering HTTP 503")
    assert httpserver.log[0][0].headers["User-Agent"].endswith("( ops@example.org )")
    response = app.test_client().get("/health")
    assert response.status_code == 200 and response.json["status"] == "degraded"


def test_an_unreachable_source_warns(make_app):
    app = make_app(musicbrainz_contact="ops@example.org", musicbrainz_base_url=f"http://127.0.0.1:{free_port()}",
                   health_check_timeout=1.0)
    result = run(app, "musicbrainz")
    assert (result.status, result.output) == ("warn", "unreachable (ConnectionError)")


def test_the_spotify_checker_follows_the_accounts_url(make_app, httpserver):
    httpserver.expect_request("/accounts/").respond_with_data("ok")
    app = make_app(spotify_client_id="id", spotify_client_secret="secret",
                   spotify_accounts_url=httpserver.url_for("/accounts"), health_check_timeout=1.0)
    assert run(app, "spotify").output == "reachable (HTTP 200)"
