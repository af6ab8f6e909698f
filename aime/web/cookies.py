"""Whether the session cookie carries the Secure flag, decided per request (AIME_SESSION_COOKIE_SECURE).

"auto" marks it Secure exactly when the request came over https: directly, or through a trusted proxy
(gunicorn's `forwarded_allow_ips`, or AIME_TRUSTED_PROXIES, whose `X-Forwarded-Proto` is believed). A
Secure cookie on a plain-http origin other than localhost is dropped by browsers, so forcing it there
would make signing in impossible (every form then fails its CSRF check).
"""
from __future__ import annotations

from flask import Flask

from ..clients import came_over_https
from ..config import config_of

NO_COOKIE_CSRF_MESSAGE = (
    "Your browser sent no session cookie back, so this form cannot be checked. Allow cookies for this site. "
    "If AIME is opened over plain http from another machine, it must not be configured with "
    "AIME_SESSION_COOKIE_SECURE=always (or 1): browsers drop Secure cookies on http addresses other than "
    "localhost. Use https, or the default AIME_SESSION_COOKIE_SECURE=auto.")


def cookie_secure(app: Flask) -> bool:
    """The Secure flag for the session cookie of the current request."""
    mode = config_of(app).session_cookie_secure
    if mode == "auto":
        return came_over_https()
    return mode == "always"
