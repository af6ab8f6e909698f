"""ListenBrainz-compatible API (/1/submit-listens, /1/validate-token), for existing scrobblers.

Mounted at /1 and /apis/listenbrainz/1 (outside /api/v1): errors use ListenBrainz' own shape,
{"code": 400, "error": "..."}, because clients parse that, not problem+json.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import auth
from ..errors import AimeError
from ..services.importers import submit as service

bp = Blueprint("listenbrainz", __name__)
USER_NAME = "aime"


def _error(code: int, message: str):
    return jsonify({"code": code, "error": message}), code


@bp.errorhandler(service.ListenBrainzError)
def _lb_error(error: service.ListenBrainzError):
    return _error(error.code, error.message)


@bp.errorhandler(AimeError)
def _aime_error(error: AimeError):
    body, code = _error(error.status, error.detail)
    return body, code, error.headers  # e.g. Retry-After of a 429


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _error(error.code or 500, error.description or error.name)


def _require_token() -> None:
    if auth.presented_token() is None:
        raise service.ListenBrainzError(401, "You need to provide an Authorization header.")
    if not auth.is_authenticated():
        raise service.ListenBrainzError(401, "Invalid authorization token.")


@bp.post("/submit-listens")
def submit_listens():
    """Submit listens (single, import) or what is playing now."""
    _require_token()
    return jsonify(service.submit(current_app.extensions["aime.config"], request.get_data(cache=False)))


@bp.get("/validate-token")
def validate_token():
    """Whether a token (Authorization header or ?token=) is valid."""
    given = auth.presented_token() or request.args.get("token")
    if not given:
        return _error(400, "You need to provide an Authorization token.")
    if auth.check_token(given):  # throttled and audited per client address
        return jsonify({"code": 200, "message": "Token valid.", "valid": True, "user_name": USER_NAME})
    return jsonify({"code": 200, "message": "Token invalid.", "valid": False})


def register(app: Flask) -> None:
    """Mount the compatibility API at both prefixes ListenBrainz clients use."""
    app.register_blueprint(bp, url_prefix="/1")
    app.register_blueprint(bp, url_prefix="/apis/listenbrainz/1", name="listenbrainz_apis")
