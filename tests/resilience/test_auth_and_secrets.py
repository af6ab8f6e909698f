"""Writes without the right token, constant-time comparison, CORS from a stranger, secrets that never leak."""
from __future__ import annotations

import hmac
import io
import logging
import re

import pytest
import sqlalchemy as sa

from tests.conftest import TEST_TOKEN, drop_postgres_database, make_postgres_database
from tests.factories import add_listen, create_album
from tests.resilience.conftest import assert_problem

pytestmark = [pytest.mark.resilience]
ALLOW = "Access-Control-Allow-Origin"


def write_operations(client) -> list[tuple[str, str]]:
    """Every write of the documented API, path parameters filled with 1, plus the ListenBrainz submit."""
    spec = client.get("/api/v1/openapi.json").get_json()
    operations = []
    for path, methods in spec["paths"].items():
        for method in methods:
            if method in ("post", "put", "patch", "delete"):
                concrete = re.sub(r"\{(\w+)\}", lambda m: "ai" if m.group(1) == "name" else "1", path)
                operations.append((method, "/api/v1" + concrete if not concrete.startswith("/api") else concrete))
    return operations


def snapshot(app) -> dict:
    """Row counts of every table but the failed-authentication counters: 'nothing changed' means these are equal."""
    from aime.extensions import db

    with app.app_context():
        counts = {t.name: db.session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                  for t in db.metadata.sorted_tables if t.name != "rate_counters"}
        db.session.remove()
    return counts


def test_writes_without_or_with_a_wrong_token_are_401_change_nothing_and_are_audited(app, client, auth, aime_logs):
    album = create_album(client, auth, "Discovery", ["Daft Punk"])
    add_listen(client, auth, "Daft Punk", "One More Time", "2024-03-01T12:00:00Z", album="Discovery")
    operations = write_operations(client)
    assert len(operations) >= 19  # every documented write
    before = snapshot(app)
    aime_logs.records.clear()
    # 100 wrong tokens from one address would be throttled (429, tests/security); this test is about the 401s.
    app.extensions["aime.config"] = app.extensions["aime.config"].replace(auth_failures_per_minute=10_000)
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Bearer {TEST_TOKEN}x"},
                    {"Authorization": f"Basic {TEST_TOKEN}"}, {"Authorization": TEST_TOKEN}):
        for method, path in operations:
            response = getattr(client, method)(path, headers=headers, json={"title": "Hacked", "artists": ["X"]})
            body = assert_problem(response, 401)
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="aime"', (method, path)
            assert TEST_TOKEN not in response.get_data(as_text=True)
            assert body["title"] == "Authentication required"
        submit = client.post("/1/submit-listens", headers=headers, json={"listen_type": "single", "payload": [
            {"listened_at": 1700000000, "track_metadata": {"artist_name": "X", "track_name": "Y"}}]})
        assert submit.status_code == 401
    assert snapshot(app) == before
    assert client.get(f"/api/v1/collection/albums/{album['id']}").get_json()["title"] == "Discovery"
    denied = [r for r in aime_logs.records if getattr(r, "audit", False) and getattr(r, "outcome", None) == "denied"]
    # One audit line per refused /api/v1 write, plus the two wrong tokens presented to /1/submit-listens.
    assert len(denied) == 5 * len(operations) + 2
    assert all(TEST_TOKEN not in r.getMessage() for r in aime_logs.records)


class EqualityTrap(str):
    """The stored token: comparing it with == (which leaks timing) fails the test loudly."""

    def __eq__(self, other):
        raise AssertionError("the API token was compared with ==, not hmac.compare_digest")

    __ne__ = __eq__
    __hash__ = str.__hash__


def test_the_token_is_compared_with_hmac_compare_digest_on_every_path(app, client, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    app.extensions["aime.api_token"] = EqualityTrap(TEST_TOKEN)
    expected = TEST_TOKEN.encode()
    wrong = "guess-" + TEST_TOKEN[6:]
    # (request, statuses with the right token, statuses with a wrong one)
    checks = [
        (lambda h: client.post("/api/v1/collection/albums", headers=h, json={"title": "T", "artists": ["A"]}),
         {201}, {401}),
        (lambda h: client.post("/1/submit-listens", headers=h, json={"listen_type": "single", "payload": [
            {"listened_at": 1700000000, "track_metadata": {"artist_name": "A", "track_name": "B"}}]}), {200}, {401}),
        (lambda h: client.get("/1/validate-token", headers=h), {200}, {200}),  # {"valid": false}
        (lambda h: client.get("/health", headers=h), {200, 503}, {200, 503}),  # details or not
    ]
    for request, right_statuses, wrong_statuses in checks:
        for given, statuses in ((TEST_TOKEN, right_statuses), (wrong, wrong_statuses)):
            calls.clear()
            response = request({"Authorization": f"Bearer {given}"})
            assert response.status_code in statuses, (response.request.path, response.get_json())
            assert (given.encode(), expected) in calls, (response.request.path, calls)


def test_a_stranger_origin_gets_no_cors_headers_on_reads_writes_and_probes(client, auth):
    stranger = {"Origin": "https://evil.example"}
    for response in (client.get("/api/v1/collection/albums", headers=stranger),
                     client.post("/api/v1/collection/albums", headers={**stranger, **auth},
                                 json={"title": "T", "artists": ["A"]}),
                     client.options("/api/v1/collection/albums", headers={
                         **stranger, "Access-Control-Request-Method": "DELETE",
                         "Access-Control-Request-Headers": "Authorization"}),
                     client.get("/health", headers=stranger), client.get("/metrics", headers=stranger)):
        assert ALLOW not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "Access-Control-Allow-Headers" not in response.headers


def _copy_app_log_handler_to(stream):
    """Also write the app's log lines, through its own scrubbing formatter and filters, to stream."""
    from aime.observability.logging import _HANDLER_NAME

    logger = logging.getLogger("aime")
    app_handler = next(h for h in logger.handlers if h.get_name() == _HANDLER_NAME)
    copy = logging.StreamHandler(stream)
    copy.setFormatter(app_handler.formatter)
    for log_filter in app_handler.filters:
        copy.addFilter(log_filter)
    logger.addHandler(copy)
    return copy


PASSWORD = "Pg-Sup3r-S3cret-pw"
SECRETS = {"lastfm_api_key": "lfm-key-5ec12e7-aaaa", "discogs_token": "dgs-token-5ec12e7-bbbb",
           "ai_api_key": "sk-live-5ec12e7-cccc", "spotify_client_secret": "spot-5ec12e7-dddd",
           "secret_key": "flask-session-5ec12e7-eeee"}


@pytest.fixture
def secret_app(tmp_path, postgres_admin_url, httpserver, make_app):
    """An app on PostgreSQL through a DSN with a password (trust auth ignores it), every credential set."""
    url = make_postgres_database(postgres_admin_url)
    with_password = sa.engine.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)
    httpserver.expect_request(re.compile(".*")).respond_with_data("down", status=500)
    base = httpserver.url_for("/api")
    app = make_app(database_url=with_password, log_level="INFO", health_check_timeout=1.0, **SECRETS,
                   lastfm_user="someone", lastfm_base_url=base, discogs_base_url=base, ai_base_url=base)
    yield app, with_password
    from aime.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_postgres_database(postgres_admin_url, url)


def test_secrets_never_appear_in_health_metrics_errors_or_logs(secret_app):
    app, dsn = secret_app
    log_stream = io.StringIO()
    copy = _copy_app_log_handler_to(log_stream)
    secrets = [PASSWORD, TEST_TOKEN, dsn, *SECRETS.values()]

    @app.get("/api/v1/explode")
    def explode():
        raise RuntimeError(f"could not reach {dsn} with key {SECRETS['ai_api_key']}")

    client = app.test_client()
    auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
    try:
        responses = [
            client.get("/health"), client.get("/health", headers=auth),
            client.get("/health", headers={**auth, "Accept": "application/health+json"}),
            client.get("/ready", headers=auth), client.get("/live"), client.get("/metrics"),
            client.get("/api/v1/services/status/all", headers=auth), client.get("/api/v1/services/scheduler/config"),
            client.get("/api/v1/explode"), client.get("/api/v1/nope"),
            client.get("/api/v1/history/tracks?tz=Nowhere"),
            client.post("/api/v1/collection/albums", json={}, headers={"Authorization": "Bearer " + PASSWORD}),
            client.post("/api/v1/services/ai/enrich-album/999999", headers=auth),
            client.post("/api/v1/services/discogs/sync", headers=auth),
        ]
    finally:
        logging.getLogger("aime").removeHandler(copy)
    assert responses[8].status_code == 500
    health = responses[1].get_json()
    assert health["checks"]["database"]["status"] == "pass"  # the DSN really was used
    for response in responses:
        text = response.get_data(as_text=True)
        for secret in secrets:
            assert secret not in text, (response.request.path, secret)
    logged = log_stream.getvalue()
    assert "explode" in logged  # the unhandled error was logged (with its stack), only scrubbed
    for secret in secrets:
        assert secret not in logged, logged[max(0, logged.find(secret) - 3000):logged.find(secret) + 200]
