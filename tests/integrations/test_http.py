"""The shared HTTP client: retries on 429/5xx/timeouts with backoff, Retry-After, Discogs rate limits, no secrets."""
import json
import logging
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from aime.integrations.discogs import DiscogsClient
from aime.integrations.http import IntegrationError, JsonClient, RetryPolicy, parse_retry_after
from aime.integrations.lastfm import LastfmClient

FAST = RetryPolicy(attempts=4, budget=30, initial=0.01, maximum=0.05)


class Sleeps(list):
    """Records the pauses the client asked for instead of sleeping them."""

    def __call__(self, seconds):
        self.append(round(seconds, 3))


def test_429_with_retry_after_waits_what_the_server_asks(httpserver):
    httpserver.expect_ordered_request("/x").respond_with_json({"error": "slow down"}, status=429,
                                                                headers={"Retry-After": "7"})
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": 1})
    sleeps = Sleeps()
    client = JsonClient(httpserver.url_for(""), service="Test", policy=FAST, sleep=sleeps)
    assert client.get_json("/x") == {"ok": 1}
    assert sleeps == [7.0]
    assert client.requests_made == 2


def test_500_then_success_backs_off_with_jitter(httpserver):
    httpserver.expect_ordered_request("/x").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/x").respond_with_data("oops", status=502)
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": 2})
    sleeps = Sleeps()
    client = JsonClient(httpserver.url_for(""), service="Test", policy=FAST, sleep=sleeps)
    assert client.get_json("/x") == {"ok": 2}
    # wait_exponential_jitter: initial * 2**n plus up to 1 s of jitter, capped at maximum (0.05 s)
    assert len(sleeps) == 2 and all(0.01 <= s <= 0.05 for s in sleeps)


def test_gives_up_after_the_attempts_with_a_clear_error(httpserver, caplog):
    httpserver.expect_request("/x").respond_with_data("down", status=503)
    client = JsonClient(httpserver.url_for(""), service="Test", policy=FAST, sleep=Sleeps())
    with caplog.at_level(logging.WARNING, logger="aime.integrations.http"), pytest.raises(IntegrationError) as info:
        client.get_json("/x")
    assert client.requests_made == 4
    assert info.value.status == 503
    assert "HTTP 503" in info.value.detail
    assert caplog.text.count("retry") == 3


def test_a_timeout_is_retried():
    calls = []

    def slow_then_fast(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(0.6)  # longer than the client's timeout
        return Response(json.dumps({"ok": 3}), content_type="application/json")

    server = HTTPServer(threaded=True)  # the slow first answer must not block the retry
    server.expect_request("/x").respond_with_handler(slow_then_fast)
    server.start()
    try:
        client = JsonClient(server.url_for(""), service="Test", timeout=0.2, policy=FAST, sleep=Sleeps())
        assert client.get_json("/x") == {"ok": 3}
        assert len(calls) == 2
    finally:
        server.clear()
        server.stop()


def test_connection_refused_is_an_integration_error():
    from tests.support.servers import free_port

    client = JsonClient(f"http://127.0.0.1:{free_port()}", service="Test", policy=FAST, sleep=Sleeps())
    with pytest.raises(IntegrationError, match="connection failed"):
        client.get_json("/x")


def test_malformed_body_is_an_integration_error_not_retried(httpserver):
    httpserver.expect_request("/x").respond_with_data("<html>maintenance</html>", status=200)
    client = JsonClient(httpserver.url_for(""), service="Test", policy=FAST, sleep=Sleeps())
    with pytest.raises(IntegrationError, match="not JSON"):
        client.get_json("/x")
    assert client.requests_made == 1


def test_discogs_rate_limit_header_pauses_before_the_window_runs_dry(httpserver):
    body = {"pagination": {"page": 1, "pages": 1, "items": 0}, "releases": []}
    headers = {"X-Discogs-Ratelimit": "60", "X-Discogs-Ratelimit-Remaining": "0"}
    httpserver.expect_request("/users/alice/collection/folders/0/releases").respond_with_json(body, headers=headers)
    sleeps = Sleeps()
    client = DiscogsClient(httpserver.url_for("").rstrip("/"), "tok", "alice", policy=FAST, sleep=sleeps)
    client.collection_page(1)
    assert sleeps == [2.0]  # 60 s window / 60 requests, twice over when nothing is left


def test_secrets_never_reach_logs_or_errors(httpserver, caplog):
    httpserver.expect_request("/2.0/").respond_with_data("down", status=500)
    httpserver.expect_request("/users/alice/collection/folders/0/releases").respond_with_data("down", status=500)
    lastfm = LastfmClient(httpserver.url_for("/2.0"), "LFM-SECRET-123", "alice", policy=FAST, sleep=Sleeps())
    discogs = DiscogsClient(httpserver.url_for("").rstrip("/"), "DG-SECRET-456", "alice", policy=FAST, sleep=Sleeps())
    errors = []
    with caplog.at_level(logging.DEBUG):
        for call in (lastfm.recent_tracks, discogs.collection_page):
            with pytest.raises(IntegrationError) as info:
                call(1)
            errors.append(info.value.detail)
    # werkzeug's lines are the fake server's own access log, not AIME's
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    assert any("api_key=***" in line for line in ours)  # urllib3's debug line, redacted
    text = " ".join(ours + errors)
    assert "retry" in caplog.text
    assert "LFM-SECRET-123" not in text and "DG-SECRET-456" not in text


@pytest.mark.parametrize("value, expected", [("3", 3.0), ("-4", 0.0), ("100000", 120.0), ("soon", None),
                                             (None, None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_parsing(value, expected):
    assert parse_retry_after(value) == expected


def test_clients_are_safe_to_use_from_several_threads(httpserver):
    httpserver.expect_request("/x").respond_with_json({"ok": 4})
    client = JsonClient(httpserver.url_for(""), service="Test", policy=FAST, sleep=Sleeps())
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.get_json("/x"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"ok": 4}] * 4
