"""The one rule for request body sizes: AIME_MAX_UPLOAD_MB on the upload endpoints, AIME_MAX_BODY_MB elsewhere."""
from __future__ import annotations

from flask import Flask, request

from .config import Config, config_of

MB = 1024 * 1024
# The endpoints that take files (the API's import upload and the imports page's form).
UPLOAD_ENDPOINTS = frozenset({"imports.ImportList", "web.upload_import"})


def upload_limit(config: Config) -> int:
    """Bytes an upload may have (AIME_MAX_UPLOAD_MB)."""
    return config.max_upload_mb * MB


def body_limit(config: Config) -> int:
    """Bytes any other request body (and a form's in-memory fields) may have (AIME_MAX_BODY_MB)."""
    return config.max_body_mb * MB


def limit_for(config: Config, endpoint: str | None) -> int:
    """Bytes a request to endpoint may carry."""
    return upload_limit(config) if endpoint in UPLOAD_ENDPOINTS else body_limit(config)


def init_body_limits(app: Flask) -> None:
    """Apply the rule to every request, before a body is read (werkzeug cuts a longer one off with 413)."""
    config = config_of(app)
    # The app-wide ceiling is the largest limit; each request is then narrowed to its endpoint's.
    app.config.update(MAX_CONTENT_LENGTH=upload_limit(config), MAX_FORM_MEMORY_SIZE=body_limit(config))

    upload, body = upload_limit(config), body_limit(config)  # limit_for's two answers, worked out once

    @app.before_request
    def _apply_limit():
        current = request._get_current_object()  # one context lookup, not two
        current.max_content_length = upload if current.endpoint in UPLOAD_ENDPOINTS else body
