"""Headers every answer carries: nosniff, HSTS over HTTPS, and Vary: Origin where CORS applies."""
from __future__ import annotations

from flask import Flask, request

from .clients import came_over_https
from .config import config_of

# Only the APIs are for other origins' scripts; pages, probes and metrics never get CORS headers.
CORS_PATHS = (r"/api/.*", r"/1/.*", r"/apis/.*")
CORS_PREFIXES = ("/api/", "/1/", "/apis/")  # the same paths, as prefixes
HSTS = "max-age=31536000"


def cors_resources() -> list[str]:
    """flask-cors resource patterns: the JSON APIs only."""
    return list(CORS_PATHS)


def init_security_headers(app: Flask) -> None:
    """Add the headers after each request (pages set their own stricter set in aime/web)."""
    config = config_of(app)
    # Without trusted proxies nobody's X-Forwarded-Proto is believed: came_over_https() is the scheme alone.
    over_https = came_over_https if config.trusted_proxies else _scheme_is_https
    cors_prefixes = CORS_PREFIXES if config.cors_origins else None  # Vary: Origin only where CORS can answer

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        if "X-Content-Type-Options" not in headers:  # as setdefault, without a second scan of the headers
            headers.add("X-Content-Type-Options", "nosniff")
        if over_https() and "Strict-Transport-Security" not in headers:
            # Only over HTTPS: an HSTS header on plain http is ignored by browsers and would lock out a LAN install.
            headers.add("Strict-Transport-Security", HSTS)
        if cors_prefixes is not None and request.path.startswith(cors_prefixes):
            # The answer differs by Origin (allowed or not): shared caches must key on it.
            response.vary.add("Origin")
        return response


def _scheme_is_https() -> bool:
    return request.scheme == "https"
