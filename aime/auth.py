"""API token: where it comes from, how requests prove it, and which requests must."""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from flask import Flask, current_app, g, request

from .clients import client_address
from .config import Config, config_of, current_config
from .errors import TooManyRequests, Unauthorized
from .services import throttle

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
    token, created = read_or_create_secret(token_path(config))
    if created:
        # Shown once, on purpose: this is how a new user learns the token (see also `flask token`).
        log.warning("generated a new API token, stored in %s (mode 0600): %s", token_path(config), token)
    return token


def read_or_create_secret(path: Path) -> tuple[str, bool]:
    """The secret stored in `path`, or a new random one written there 0600; (secret, created)."""
    with _token_lock:
        if path.exists():
            return path.read_text(encoding="utf-8").strip(), False
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret = secrets.token_urlsafe(32)
        # O_EXCL: two workers starting together agree on one secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip(), False
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        return secret, True


def ensure_session_secret(config: Config) -> str:
    """SECRET_KEY, or a random secret kept 0600 in the data dir: never derived from the API token."""
    if config.secret_key:
        return config.secret_key
    return read_or_create_secret(config.data_dir / "session_secret")[0]


COMMON_WEAK = ("password", "secret", "changeme", "admin", "token", "aime", "test", "qwerty", "123456", "letmein")


def weak_token_reason(token: str | None) -> str | None:
    """Why a configured AIME_API_TOKEN is guessable (short, few distinct characters, a common word), or None."""
    if token is None:
        return None
    if len(token) < 32:
        return f"AIME_API_TOKEN has {len(token)} characters; use at least 32 random ones (e.g. `openssl rand -hex 32`)"
    letters = "".join(ch for ch in token.lower() if ch.isalpha())
    if len(set(token)) < 8 or letters in COMMON_WEAK or token.isdigit():
        return "AIME_API_TOKEN looks guessable (repeated characters or a common word); use `openssl rand -hex 32`"
    return None


def current_token() -> str:
    """The API token of the running app (cached after the first read)."""
    cached = current_app.extensions.get("aime.api_token")
    if cached is None:
        cached = ensure_api_token(current_config())
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


def token_matches(given: str) -> bool:
    """True when `given` is the API token (constant-time), with no throttling or audit."""
    return hmac.compare_digest(given.encode(), current_token().encode())


def _failure_limit() -> throttle.Limit:
    return throttle.Limit(current_config().auth_failures_per_minute, 60)


def refuse_if_throttled() -> None:
    """429 when this client address failed to authenticate too often this minute (checked before any compare)."""
    address = client_address()
    count, retry_after = throttle.used("auth:" + address, _failure_limit())
    if count >= _failure_limit().count:
        log.warning("audit: throttled %s %s from %s: %d failed authentications this minute", request.method,
                    request.path, address, count,
                    extra={"audit": True, "outcome": "throttled", "client": address, "failures": count})
        raise TooManyRequests(f"Too many failed authentications from this address; try again in {retry_after} s.",
                              retry_after=retry_after)


def record_failure(reason: str) -> None:
    """Count a failed authentication against the client address (shared by every worker) and audit it."""
    address = client_address()
    count = throttle.record("auth:" + address, _failure_limit())
    log.warning("audit: rejected %s %s from %s: %s", request.method, request.path, address, reason,
                extra={"audit": True, "outcome": "denied", "client": address, "failures": count})


def check_token(given: str) -> bool:
    """True when `given` is the API token; a wrong one is counted and audited, and a client over the limit gets 429."""
    checked = g.setdefault("aime_checked_tokens", {})
    if given in checked:  # asked twice in one request (e.g. /health): one verdict, one count
        return checked[given]
    refuse_if_throttled()
    checked[given] = token_matches(given)
    if not checked[given]:
        record_failure("wrong token")
    return checked[given]


def is_authenticated() -> bool:
    """True when the request carries the right token (a wrong one counts as a failed authentication)."""
    given = presented_token()
    if given is None:
        return False
    return check_token(given)


def require_token() -> None:
    """Raise 401 unless the request carries the right token; remember who for the audit log."""
    given = presented_token()
    if given is None:
        address = client_address()
        log.warning("audit: rejected %s %s from %s: no token", request.method, request.path, address,
                    extra={"audit": True, "outcome": "denied", "client": address})
        raise Unauthorized("This request needs an API token: Authorization: Bearer <token>.")
    if not check_token(given):
        raise Unauthorized("The API token is not valid.")
    g.token_id = token_id(given)


def paid_call_budget():
    """None for a caller with the token; else a function charging one paid AI call to its address (429 past the limit).

    Counted in the database, so the hourly budget holds across every gunicorn worker.
    """
    if is_authenticated():
        return None
    limit = throttle.Limit(current_config().ai_anonymous_per_hour, 3600)
    address = client_address()

    def charge() -> None:
        # Counted first (one atomic upsert), then compared: concurrent requests cannot both slip under the limit.
        count = throttle.record("ai:" + address, limit)
        if count > limit.count:
            retry_after = limit.window(time.time())[1]
            log.warning("paid AI call refused to %s: %d this hour", address, count,
                        extra={"client": address, "outcome": "throttled"})
            raise TooManyRequests(f"Anonymous callers may cause {limit.count} AI calls per hour; try again in "
                                  f"{retry_after} s, or send the API token.", retry_after=retry_after)

    return charge


def protect_api(app: Flask, prefix: str = "/api/v1") -> None:
    """Under `prefix`, writes always need the token; reads too when AIME_PRIVATE=1."""
    config: Config = config_of(app)
    under, private = prefix + "/", config.private

    @app.before_request
    def _check_token():
        current = request._get_current_object()  # one context lookup, not one per attribute
        method = current.method  # OPTIONS never needs it: a CORS preflight carries no credentials
        if (method in WRITE_METHODS or (private and method != "OPTIONS")) and current.path.startswith(under):
            require_token()


def init_auth(app: Flask) -> None:
    """Nothing to bind at start: the token is read lazily on first use (no I/O in create_app)."""
    app.extensions.setdefault("aime.api_token", None)
