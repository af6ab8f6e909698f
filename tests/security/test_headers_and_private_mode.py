"""Issue 15 item 10: private mode covers /metrics and the /health summary; CORS only on the APIs, with
Vary: Origin; nosniff on API answers; HSTS only over HTTPS."""
from __future__ import annotations

from tests.conftest import TEST_TOKEN

SCRAPE = "scrape-only-secret-0123456789abcdefXYZ"


def test_private_mode_hides_metrics_and_the_health_summary(make_app):
    client = make_app(private=True, metrics_token=SCRAPE).test_client()
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"
    assert client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE}"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TEST_TOKEN}"}).status_code == 200
    health = client.get("/health")
    assert health.status_code == 200 and set(health.get_json()) == {"status"}
    assert "uptime_seconds" in client.get("/health", headers={"Authorization": f"Bearer {TEST_TOKEN}"}).get_json()
    assert client.get("/live").status_code == 200
    assert client.get("/ready").get_json() == {"ready": True}


def test_public_mode_keeps_metrics_and_summary_open(make_app):
    client = make_app().test_client()
    assert client.get("/metrics").status_code == 200
    assert "uptime_seconds" in client.get("/health").get_json()


def test_cors_only_on_the_apis_and_varies_by_origin(make_app):
    client = make_app(cors_origins=["https://music.example.org"]).test_client()
    origin = {"Origin": "https://music.example.org"}
    api = client.get("/api/v1/collection/albums", headers=origin)
    assert api.headers["Access-Control-Allow-Origin"] == "https://music.example.org"
    assert "Origin" in api.headers.get_all("Vary") or "Origin" in api.headers["Vary"]
    refused = client.get("/api/v1/collection/albums", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers and "Origin" in refused.headers["Vary"]
    for page in ("/login", "/", "/health", "/metrics"):
        answer = client.get(page, headers=origin)
        assert "Access-Control-Allow-Origin" not in answer.headers, page


def test_api_answers_are_nosniff_and_hsts_only_over_https(make_app):
    client = make_app().test_client()
    plain = client.get("/api/v1/collection/albums")
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in plain.headers
    assert client.get("/api/v1/nope").headers["X-Content-Type-Options"] == "nosniff"  # problem+json too
    secure = client.get("/api/v1/collection/albums", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    # X-Forwarded-Proto is believed from a trusted proxy only.
    spoofed = client.get("/api/v1/collection/albums", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers
    proxied = make_app(trusted_proxies=("127.0.0.0/8",)).test_client()
    behind = proxied.get("/api/v1/collection/albums", headers={"X-Forwarded-Proto": "https"})
    assert behind.headers["Strict-Transport-Security"] == "max-age=31536000"


def _names(response) -> list[str]:
    return sorted(name for name, _value in response.headers)


def test_the_exact_headers_of_a_probe_a_kept_answer_and_a_preflight_without_cors_origins(make_app):
    """Per-request hooks cut to what applies (r18-hooks): every answer still carries exactly these headers."""
    client = make_app().test_client()
    origin = {"Origin": "https://a.example", "X-Request-ID": "probe-1"}
    live = client.get("/live", headers=origin)
    assert _names(live) == ["Cache-Control", "Content-Length", "Content-Type", "X-Content-Type-Options",
                            "X-Request-ID"]
    assert (live.headers["X-Request-ID"], live.headers["X-Content-Type-Options"]) == ("probe-1", "nosniff")
    first = client.get("/api/v1/collection/albums", headers=origin)
    kept = client.get("/api/v1/collection/albums", headers=origin)
    for answer in (first, kept):
        assert _names(answer) == ["Cache-Control", "Content-Length", "Content-Type", "ETag",
                                  "X-Content-Type-Options", "X-Request-ID"]
    assert [kept.headers[name] for name in ("Cache-Control", "ETag", "Content-Type")] == [
        "private, no-cache", first.headers["ETag"], "application/json"]
    assert kept.data == first.data
    preflight = client.options("/api/v1/collection/albums", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    assert _names(preflight) == ["Allow", "Content-Length", "Content-Type", "X-Content-Type-Options", "X-Request-ID"]
    assert client.get("/api/v1/collection/albums", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"] \
        != "bad id!"
