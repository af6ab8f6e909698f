"""Web sign-in, the session secret and CSRF: the API token entered once, kept in a signed HttpOnly cookie."""
from __future__ import annotations

import hmac
import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from .. import auth
from ..config import config_of, current_config
from .cookies import NO_COOKIE_CSRF_MESSAGE, cookie_secure
from ..services import web_sessions

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LazySecretSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose secret is read (or generated) at first real use.

    The secret is SECRET_KEY or a random one kept 0600 in the data dir, never derived from the API
    token: a cookie anyone can get from GET /login must not let them test token guesses offline.
    Requests without a session cookie (every API call, /health ...) never need the secret, so they
    never read the file: create_app and cookie-less requests stay free of I/O.
    """

    def get_signing_serializer(self, app: Flask):
        """The serializer, loading SECRET_KEY (or the stored random secret) the first time it is needed."""
        if not app.secret_key:
            app.secret_key = auth.ensure_session_secret(config_of(app))
        return super().get_signing_serializer(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure per request (https directly or via a trusted proxy), see aime.web.cookies."""
        return cookie_secure(app)

    def open_session(self, app: Flask, request):
        """An empty session when there is no cookie (no secret needed), else the signed one."""
        # No Cookie header at all (every API client, probe and monitor): Flask would answer the same empty session,
        # after building a signing serializer and parsing the (absent) cookies.
        if "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        if not app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        """Nothing to do for a session nobody read, changed or sent (every API call and probe); else Flask's."""
        # Flask's save_session works out the cookie's name, domain, path, flags (Secure per request, see
        # aime.web.cookies) before it finds that an empty, untouched session needs no header at all.
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)


def init_security(app: Flask) -> None:
    """Install the lazy-secret session and the cookie flags (HttpOnly, SameSite=Lax, Secure per request)."""
    app.session_interface = LazySecretSessionInterface()
    config = config_of(app)
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
    if request.method in SAFE_METHODS or request.environ.get("aime.csrf_checked"):
        return
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected and not request.cookies.get(current_app.config["SESSION_COOKIE_NAME"]):
        abort(400, description=NO_COOKIE_CSRF_MESSAGE)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(400, description="The form expired or did not come from this site; reload the page and try again.")


def check_csrf_before_body() -> None:
    """For uploads: check a CSRF token sent in the URL or header without reading the body (the form puts it in its
    action URL); without one, check_csrf reads it from the form of this signed-in session."""
    given = request.args.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if given is None:
        return
    expected = session.get(CSRF_FIELD)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(400, description="The form expired or did not come from this site; reload the page and try again.")
    request.environ["aime.csrf_checked"] = True


def sign_in(token: str) -> bool:
    """Start a signed-in session if `token` is the API token; False otherwise (failures throttled and audited)."""
    if not token or not auth.check_token(token):
        return False
    session.clear()  # a fresh session (and CSRF token) on sign-in: no fixation
    session_id = secrets.token_urlsafe(32)
    web_sessions.open_session(session_id, auth.token_id(token))
    session["sid"] = session_id
    session["token_id"] = auth.token_id(token)
    session.permanent = True
    csrf_token()
    return True


def sign_out() -> None:
    """End the session server-side (a copy of the cookie is refused from now on) and forget it."""
    if session.get("sid"):
        web_sessions.close_session(session["sid"])
    session.clear()


def signed_in() -> bool:
    """True when the session's row exists and was opened with the current API token (a new token ends old sessions)."""
    if "aime_signed_in" not in g:
        held, session_id = session.get("token_id"), session.get("sid")
        current = auth.token_id(auth.current_token())
        g.aime_signed_in = bool(held and session_id and hmac.compare_digest(held, current)
                                and web_sessions.is_open(session_id, current))
    return g.aime_signed_in


def login_required(view):
    """Redirect to /login (coming back afterwards) unless signed in."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not signed_in():
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None) -> str:
    """Only same-origin relative paths are followed after sign-in (no open redirect)."""
    return local_path(target) or url_for("web.dashboard")


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None.

    Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so `/\t/evil` and
    `/\\evil` mean `//evil` (another host); control characters are refused outright (a newline in a
    Location header is also a 500 in werkzeug).
    """
    if not target or not target.startswith("/") or any(ch < " " or ch == "\x7f" for ch in target):
        return None
    if target[1:2] in ("/", "\\") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def is_private() -> bool:
    """True when AIME_PRIVATE=1: read pages need sign-in too."""
    return current_config().private
