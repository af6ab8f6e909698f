"""CORS: only the origins listed in AIME_CORS_ORIGINS, none by default."""
from __future__ import annotations

ALLOW = "Access-Control-Allow-Origin"


def test_no_origin_is_allowed_by_default(make_app):
    response = make_app().test_client().get("/api/v1/collection/albums", headers={"Origin": "https://a.example"})
    assert response.status_code == 200
    assert ALLOW not in response.headers


def test_only_listed_origins_are_allowed(make_app):
    client = make_app(cors_origins=["https://music.example.org"]).test_client()
    listed = client.get("/api/v1/collection/albums", headers={"Origin": "https://music.example.org"})
    assert listed.headers[ALLOW] == "https://music.example.org"
    other = client.get("/api/v1/collection/albums", headers={"Origin": "https://evil.example"})
    assert ALLOW not in other.headers
    preflight = client.options("/api/v1/collection/albums", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert ALLOW not in preflight.headers
