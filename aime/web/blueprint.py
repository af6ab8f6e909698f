"""The pages' blueprint: sign-in and CSRF guard, security headers, error pages (routes: the *_views modules)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ..errors import AimeError, classify
from . import security

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web")

# Pages that stay reachable without signing in, even when AIME_PRIVATE=1.
PUBLIC_ENDPOINTS = frozenset({"web.login", "web.static"})


@bp.before_request
def _guard():
    """CSRF on every POST; with AIME_PRIVATE=1, every page but /login needs sign-in."""
    if request.endpoint == "web.upload_import":
        # Its limit (AIME_MAX_UPLOAD_MB) comes from body_limits. Session and CSRF before the body: an anonymous
        # client must not get a GB into a temp file first.
        if not security.signed_in():
            return redirect(url_for("web.login", next=url_for("web.imports")))
        security.check_csrf_before_body()
    security.check_csrf()
    if security.is_private() and request.endpoint not in PUBLIC_ENDPOINTS and not security.signed_in():
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def _headers(response):
    # Pages are per-session (CSRF token, sign-in state): never cached by shared caches; no framing.
    response.headers.setdefault("Cache-Control",
                                "private, no-store" if request.endpoint != "web.static" else "public, max-age=3600")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
                                "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    return response


@bp.errorhandler(AimeError)
def _aime_error(error: AimeError):
    return (render_template("error.html", status=error.status, title=error.title, detail=error.detail),
            error.status, error.headers)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return render_template("error.html", status=error.code, title=error.name, detail=error.description), error.code


@bp.errorhandler(Exception)
def _unexpected(error: Exception):
    # The API's classification (errors.classify), shown as a page; details go to the log, never to the page.
    known = classify(error)
    if known.status == 500:
        return render_template("error.html", status=500, title="Something went wrong", detail=known.detail), 500
    return _aime_error(known)
