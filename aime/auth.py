"""API token: where it comes from, how requests prove it, and which requests must."""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from pathlib import Path

from flask import Flask, current_app, g, request

from .config import Config
from .errors import Unauthorized

log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_token_lock = threading.Lock()


def token_path(config: Config) -> Path:
    """Where a generated token is kept."""
    return config.data_dir / "api_token"


def ensure_api_token(config: Config) -> str:
    """The configured token, or the generated one (created 0600 on first call, logged once)."""
    if config.api_token:
        return config.api_token
    path = token_path(config)
    with _token_lock:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        # O_EXCL: two workers starting together agree on one token.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        # Shown once, on purpose: this is how a new user learns the token (see also `flask token`).
        log.warning("generated a new API token, stored in %s (mode 0600): %s", path, token)
        return token


def current_token() -> str:
    """The API token of the running app (cached after the first read)."""
    cached = current_app.extensions.get("aime.api_token")
    if cached is None:
        cached = ensure_api_token(current_app.extensions["aime.config"])
        current_app.extensions["aime.api_token"] = cached
    return cached


def token_id(token: str) -> str:
    """A short, non-reversible id of a token for audit lines."""
    return "tok_" + hashlib.sha256(token.encode()).hexdigest()[:10]


def presented_token() -> str | None:
    """The token from `Authorization: Bearer <t>` or `Token <t>`, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def is_authenticated() -> bool:
    """True when the request carries the right token (compared in constant time)."""
    given = presented_token()
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), current_token().encode())


def require_token() -> None:
    """Raise 401 unless the request carries the right token; remember who for the audit log."""
    given = presented_token()
    if given is None:
        log.warning("audit: rejected %s %s: no token", request.method, request.path,
                    extra={"audit": True, "outcome": "denied"})
        raise Unauthorized("This request needs an API token: Authorization: Bearer <token>.")
    if not hmac.compare_digest(given.encode(), current_token().encode()):
        log.warning("audit: rejected %s %s: wrong token", request.method, request.path,
                    extra={"audit": True, "outcome": "denied"})
        raise Unauthorized("The API token is not valid.")
    g.token_id = token_id(given)


def protect_api(app: Flask, prefix: str = "/api/v1") -> None:
    """Under `prefix`, writes always need the token; reads too when AIME_PRIVATE=1."""
    config: Config = app.extensions["aime.config"]

    @app.before_request
    def _check_token():
        if not request.path.startswith(prefix + "/") or request.method == "OPTIONS":
            return
        if request.method in WRITE_METHODS or config.private:
            require_token()


def init_auth(app: Flask) -> None:
    """Nothing to bind at start: the token is read lazily on first use (no I/O in create_app)."""
    app.extensions.setdefault("aime.api_token", None)


def token_matches(given: str) -> bool:
    """True when `given` is the API token (constant time); for protocols that carry it outside a header."""
    return hmac.compare_digest(given.encode(), current_token().encode())
