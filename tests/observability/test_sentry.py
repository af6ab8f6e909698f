"""Sentry with the real SDK sending to a local HTTP endpoint: one event per 5xx, none for 4xx, nothing secret."""
from __future__ import annotations

import contextlib
import gzip
import json
import threading

import pytest
import sentry_sdk
from werkzeug import Response

from aime.health.checkers import failed
from aime.health.registry import HealthRegistry
from tests.support.servers import free_port

SECRET_TOKEN = "tok-super-secret-5511aa"


class Envelopes:
    """Collects what the SDK posts; can be made to hang like a dead Sentry."""

    def __init__(self):
        self.bodies: list[bytes] = []
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Event()
        self.answer = Response("{}", status=200, content_type="application/json")  # what Sentry says back

    def handler(self, request):
        self.bodies.append(request.get_data())
        self.arrived.set()
        self.release.wait(30)
        return self.answer

    def _decoded(self) -> list[bytes]:
        """The bodies received, gunzipped where the SDK compressed them."""
        out = []
        for body in self.bodies:
            with contextlib.suppress(OSError):
                body = gzip.decompress(body)
            out.append(body)
        return out

    def events(self) -> list[dict]:
        """Event payloads (type event) decoded from the envelopes."""
        found = []
        for body in self._decoded():
            lines = body.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def raw(self) -> str:
        """Everything received, decompressed, as text."""
        return "\n".join(body.decode("utf-8", "replace") for body in self._decoded())


@pytest.fixture
def sentry(httpserver):
    """A local Sentry endpoint; the SDK is shut down afterwards so no other test reports to it."""
    envelopes = Envelopes()
    httpserver.expect_request("/api/1/envelope/", method="POST").respond_with_handler(envelopes.handler)
    yield envelopes, f"http://key@127.0.0.1:{httpserver.port}/1"
    envelopes.release.set()
    client = sentry_sdk.get_client()
    client.close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def reporting_app(make_app, sentry):
    """An app reporting to the local endpoint, with a failing route and a secret in its configuration."""
    envelopes, dsn = sentry
    app = make_app(sentry_dsn=dsn, sentry_environment="staging", sentry_release="aime@9.9.9",
                   discogs_token=SECRET_TOKEN)

    @app.post("/boom")
    def boom():
        raise RuntimeError(f"failed calling https://user:pw123456@api.example.org with {SECRET_TOKEN} "
                           "for someone@example.org")

    return app, envelopes


def test_one_event_per_unhandled_5xx_none_for_4xx_nothing_secret(reporting_app):
    app, envelopes = reporting_app
    client = app.test_client()
    assert client.get("/nowhere").status_code == 404
    assert client.post("/api/v1/collection/albums", json={}).status_code == 401
    response = client.post("/boom", json={"password": "hunter2hunter2", "email": "someone@example.org"},
                           headers={"Authorization": f"Bearer {SECRET_TOKEN}", "Cookie": "session=abc123456789"})
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    events = envelopes.events()
    assert len(events) == 1
    event = events[0]
    assert (event["release"], event["environment"]) == ("aime@9.9.9", "staging")
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    raw = envelopes.raw()
    for secret in (SECRET_TOKEN, "pw123456", "someone@example.org", "hunter2hunter2", "abc123456789"):
        assert secret not in raw


def test_a_hanging_sentry_does_not_hold_requests(reporting_app):
    app, envelopes = reporting_app
    envelopes.release.clear()  # the endpoint accepts connections and never answers
    client = app.test_client()
    try:
        assert client.post("/boom").status_code == 500
        assert envelopes.arrived.wait(10)  # the SDK is now stuck talking to it...
        for _ in range(5):  # ...and requests are answered all the same
            assert client.post("/boom").status_code == 500
            assert client.get("/live").status_code == 200
        assert not envelopes.release.is_set()
    finally:
        envelopes.release.set()


FAILING_SENTRY = {
    "500": (Response("oops", status=500), 5),  # the SDK does not retry: each event is sent once
    "429": (Response("", status=429, headers={"Retry-After": "60"}), 1),  # then it holds back for 60 s
    "malformed": (Response("\x00not json{", status=200, content_type="application/json"), 5),
}


@pytest.mark.parametrize("answer", FAILING_SENTRY)
def test_a_failing_sentry_never_fails_a_request_and_is_not_hammered(reporting_app, answer):
    app, envelopes = reporting_app
    envelopes.answer, sent = FAILING_SENTRY[answer]
    client = app.test_client()
    for _ in range(5):
        response = client.post("/boom")
        assert (response.status_code, response.content_type) == (500, "application/problem+json")
        assert client.get("/live").status_code == 200
    sentry_sdk.flush(timeout=5)
    assert len(envelopes.events()) == sent  # other envelopes (client reports) aside


def test_an_unreachable_sentry_never_fails_a_request(make_app):
    dsn = f"http://key@127.0.0.1:{free_port()}/1"  # nothing listens there: connections are refused
    app = make_app(sentry_dsn=dsn)

    @app.post("/boom")
    def boom():
        raise RuntimeError("boom")

    client = app.test_client()
    try:
        for _ in range(5):
            assert client.post("/boom").status_code == 500
            assert client.get("/live").status_code == 200
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.get_global_scope().set_client(None)


def test_becoming_unhealthy_sends_one_message(make_app, sentry):
    envelopes, dsn = sentry
    app = make_app(migrate=False, sentry_dsn=dsn, health_failure_ttl=0.0)

    class Down:
        name, critical = "core", True

        def check(self):
            return failed("down")

    registry = HealthRegistry(app, discover=False)
    registry.add(Down())
    for _ in range(3):
        assert registry.evaluate()[0] == "unhealthy"
    sentry_sdk.flush(timeout=5)
    messages = [e.get("message") or e.get("logentry", {}).get("message") for e in envelopes.events()]
    assert messages == ["AIME became unhealthy: core failing"]
