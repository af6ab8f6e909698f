"""Web sign-in, the session secret and CSRF: the API token entered once, kept in a signed HttpOnly cookie."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import wraps

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from .. import auth
from .cookies import NO_COOKIE_CSRF_MESSAGE, cookie_secure

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def derived_secret(token: str) -> str:
    """A stable session secret derived from the API token (used when SECRET_KEY is unset)."""
    return hmac.new(token.encode(), b"aime-web-session-v1", hashlib.sha256).hexdigest()


class LazySecretSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose secret is derived from the API token at first real use.

    Requests without a session cookie (every API call, /health ...) never need the secret, so they
    never read the token file: create_app and cookie-less requests stay free of I/O.
    """

    def get_signing_serializer(self, app: Flask):
        """The serializer, deriving SECRET_KEY from the API token the first time it is needed."""
        if not app.secret_key:
            app.secret_key = derived_secret(auth.current_token())
        return super().get_signing_serializer(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure per request (https directly or via a trusted proxy), see aime.web.cookies."""
        return cookie_secure(app)

    def open_session(self, app: Flask, request):
        """An empty session when there is no cookie (no secret needed), else the signed one."""
        if not app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_security(app: Flask) -> None:
    """Install the lazy-secret session and the cookie flags (HttpOnly, SameSite=Lax, Secure per request)."""
    app.session_interface = LazySecretSessionInterface()
    config = app.extensions["aime.config"]
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=config.session_cookie_secure == "always",  # per request: get_cookie_secure
                      SESSION_COOKIE_NAME="aime_session")


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Abort 400 unless a POST carries this session's CSRF token (form field or header)."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected and not request.cookies.get(current_app.config["SESSION_COOKIE_NAME"]):
        abort(400, description=NO_COOKIE_CSRF_MESSAGE)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(400, description="The form expired or did not come from this site; reload the page and try again.")


def sign_in(token: str) -> bool:
    """Start a signed-in session if `token` is the API token (constant-time); False otherwise."""
    if not token or not hmac.compare_digest(token.encode(), auth.current_token().encode()):
        return False
    session.clear()  # a fresh session (and CSRF token) on sign-in: no fixation
    session["token_id"] = auth.token_id(token)
    session.permanent = True
    csrf_token()
    return True


def sign_out() -> None:
    """Forget the session."""
    session.clear()


def signed_in() -> bool:
    """True when the session was opened with the current API token (a new token ends old sessions)."""
    held = session.get("token_id")
    return bool(held) and hmac.compare_digest(held, auth.token_id(auth.current_token()))


def login_required(view):
    """Redirect to /login (coming back afterwards) unless signed in."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not signed_in():
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("web.dashboard")


def is_private() -> bool:
    """True when AIME_PRIVATE=1: read pages need sign-in too."""
    return current_app.extensions["aime.config"].private
