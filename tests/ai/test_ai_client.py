"""The OpenAI-compatible client against a local server: success, retries, timeouts, the circuit breaker, cleaning."""
import time

import pytest

from aime.integrations import ai
from aime.services.ai_writing import clean_text

from .conftest import CHAT, completion

MESSAGES = [{"role": "user", "content": "Say hi"}]


def test_success_sends_model_key_and_messages(bare_ai_app, httpserver):
    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json(completion("Hello there"))
    with bare_ai_app.app_context():
        answer = ai.chat(bare_ai_app.extensions["aime.config"], MESSAGES, max_tokens=50)
    assert answer == "Hello there"
    request, _response = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer sk-test"
    body = request.get_json()
    assert body["model"] == "test-model" and body["messages"] == MESSAGES and body["max_tokens"] == 50


def test_server_error_then_success_is_retried(bare_ai_app, httpserver):
    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json({"error": "boom"}, status=500)
    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json(completion("Second time lucky"))
    with bare_ai_app.app_context():
        assert ai.chat(bare_ai_app.extensions["aime.config"], MESSAGES) == "Second time lucky"
        assert ai.breaker(bare_ai_app.extensions["aime.config"]).consecutive == 0
    assert len(httpserver.log) == 2


def test_timeout_then_success(bare_ai_app, httpserver):
    def slow(_request):
        time.sleep(0.8)  # longer than the client's 0.3 s read timeout: the client gives up and retries
        from werkzeug import Response
        return Response("{}", status=200, content_type="application/json")

    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_handler(slow)
    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json(completion("Patience"))
    with bare_ai_app.app_context():
        assert ai.chat(bare_ai_app.extensions["aime.config"], MESSAGES) == "Patience"


def test_gives_up_after_the_attempts(bare_ai_app, httpserver):
    httpserver.expect_request(CHAT, method="POST").respond_with_json({"error": "down"}, status=503)
    with bare_ai_app.app_context(), pytest.raises(ai.AIUnavailable) as caught:
        ai.chat(bare_ai_app.extensions["aime.config"], MESSAGES)
    assert "after 2 attempts" in caught.value.detail and "HTTP 503" in caught.value.detail
    assert caught.value.status == 503
    assert len(httpserver.log) == 2


def test_refusal_is_not_retried(bare_ai_app, httpserver):
    httpserver.expect_request(CHAT, method="POST").respond_with_json({"error": "bad key"}, status=401)
    with bare_ai_app.app_context(), pytest.raises(ai.AIUnavailable) as caught:
        ai.chat(bare_ai_app.extensions["aime.config"], MESSAGES)
    assert "HTTP 401" in caught.value.detail and "sk-test" not in caught.value.detail
    assert len(httpserver.log) == 1


def test_not_a_completion(bare_ai_app, httpserver):
    httpserver.expect_request(CHAT, method="POST").respond_with_json({"unexpected": True})
    with bare_ai_app.app_context(), pytest.raises(ai.AIUnavailable, match="not a chat completion"):
        ai.chat(bare_ai_app.extensions["aime.config"], MESSAGES)


def test_circuit_opens_after_repeated_failures_and_closes_after_a_good_trial(bare_ai_app, httpserver):
    config = bare_ai_app.extensions["aime.config"]
    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json({}, status=500)
    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json({}, status=500)
    with bare_ai_app.app_context():
        config = config.replace(ai_attempts=1)
        for _ in range(2):  # two failed calls: the breaker (threshold 2) opens
            with pytest.raises(ai.AIUnavailable):
                ai.chat(config, MESSAGES)
        assert ai.health(config)["circuit"] == "open"
        with pytest.raises(ai.CircuitOpen) as caught:
            ai.chat(config, MESSAGES)
        assert caught.value.headers["Retry-After"] in ("60", "61")  # the 60 s reset period, rounded up
        assert len(httpserver.log) == 2, "an open circuit must not call the endpoint"

        cb = ai.breaker(config)
        cb.opened_at -= 61  # the reset period is over: the next call is a trial
        assert cb.state() == "half-open"
        httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json(completion("Back"))
        assert ai.chat(config, MESSAGES) == "Back"
        assert ai.health(config) == {"configured": True, "status": "ok", "circuit": "closed",
                                     "consecutive_failures": 0, "last_error": None}


def test_failed_trial_reopens_at_once(bare_ai_app, httpserver):
    httpserver.expect_request(CHAT, method="POST").respond_with_json({}, status=500)
    with bare_ai_app.app_context():
        config = bare_ai_app.extensions["aime.config"].replace(ai_attempts=1)
        for _ in range(2):
            with pytest.raises(ai.AIUnavailable):
                ai.chat(config, MESSAGES)
        cb = ai.breaker(config)
        cb.opened_at -= 61
        with pytest.raises(ai.AIUnavailable):
            ai.chat(config, MESSAGES)  # the trial fails ...
        assert cb.state() == "open"  # ... and the breaker opens again without waiting for 2 more failures
        assert len(httpserver.log) == 3


def test_not_configured(bare_app):
    with bare_app.app_context():
        config = bare_app.extensions["aime.config"]
        assert ai.health(config) == {"configured": False, "status": "not_configured"}
        with pytest.raises(ai.NotConfigured, match="AI is not configured"):
            ai.chat(config, MESSAGES)


def test_clean_text_strips_html_and_markdown():
    raw = ("## Night Drive\n\n**Warm** synths and <b>cold</b> drums, [see more](http://x.example) &amp; _more_."
           "<script>alert(1)</script>")
    assert clean_text(raw, 500) == "Night Drive\n\nWarm synths and cold drums, see more & more."


def test_clean_text_keeps_lines_snake_case_and_limits_length():
    assert clean_text("- first line\n- second_line_here\n\n\n\n> third `line`", 500) == \
        "first line\nsecond_line_here\n\nthird line"
    long = "abcd " * 400
    cleaned = clean_text(long, 1200)
    assert cleaned == ("abcd " * 239).rstrip() + "…" and len(cleaned) == 1195
    assert clean_text("x" * 50, 10) == "x" * 9 + "…"
