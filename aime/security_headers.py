"""Headers every answer carries: nosniff, HSTS over HTTPS, and Vary: Origin where CORS applies."""
from __future__ import annotations

from flask import Flask, request

from .clients import came_over_https
from .config import config_of

# Only the APIs are for other origins' scripts; pages, probes and metrics never get CORS headers.
CORS_PATHS = (r"/api/.*", r"/1/.*", r"/apis/.*")
HSTS = "max-age=31536000"


def cors_resources() -> list[str]:
    """flask-cors resource patterns: the JSON APIs only."""
    return list(CORS_PATHS)


def init_security_headers(app: Flask) -> None:
    """Add the headers after each request (pages set their own stricter set in aime/web)."""
    config = config_of(app)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if came_over_https():
            # Only over HTTPS: an HSTS header on plain http is ignored by browsers and would lock out a LAN install.
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if config.cors_origins and request.path.startswith(("/api/", "/1/", "/apis/")):
            # The answer differs by Origin (allowed or not): shared caches must key on it.
            response.vary.add("Origin")
        return response
