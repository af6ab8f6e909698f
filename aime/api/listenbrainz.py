"""ListenBrainz-compatible API for existing scrobblers: submit, read back, playing now, feedback, deletions.

Mounted at /1 and /apis/listenbrainz/1 (outside /api/v1): errors use ListenBrainz' own shape,
{"code": 400, "error": "..."}, because clients parse that, not problem+json.
"""
from __future__ import annotations

import json

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import auth
from ..config import current_config
from ..errors import AimeError
from ..services import scrobbles
from ..services.importers import submit as service
from ..services.importers.lb_validation import is_uuid

bp = Blueprint("listenbrainz", __name__)


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
    if error.code == 413:  # over upstream's own limit: upstream's answer (400), not werkzeug's
        return _error(400, f"Payload too large. Payload cannot exceed {service.MAX_LISTEN_PAYLOAD_SIZE} bytes")
    return _error(error.code or 500, error.description or error.name)


@bp.before_request
def _submission_size_limit():
    # Upstream's limit (1000 listens x 10,240 bytes) instead of AIME_MAX_BODY_MB: imports may be this large.
    request.max_content_length = max(request.max_content_length or 0, service.MAX_LISTEN_PAYLOAD_SIZE)


def _user_name() -> str:
    return current_config().user_name


def _require_token() -> None:
    if not request.headers.get("Authorization"):
        raise service.ListenBrainzError(401, "You need to provide an Authorization header.")
    if not auth.is_authenticated():
        raise service.ListenBrainzError(401, "Invalid authorization token.")


def _require_user(name: str) -> str:
    if name != _user_name():
        raise service.ListenBrainzError(404, f"Cannot find user: {name}")
    return name


def _int_arg(name: str, default: int | None = None) -> int | None:
    value = request.args.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise service.ListenBrainzError(400, f"Invalid {name} argument: {value}") from None


def _json_body() -> dict:
    try:
        data = json.loads(request.get_data().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise service.ListenBrainzError(400, f"Cannot parse JSON document: {str(error)[:200]}") from None
    if not isinstance(data, dict):
        raise service.ListenBrainzError(400, "Invalid JSON document submitted. Top level of JSON document should "
                                             "be a json object.")
    return data


@bp.post("/submit-listens")
def submit_listens():
    """Submit listens (single, import) or what is playing now."""
    _require_token()
    return_msid = request.args.get("return_msid", "").lower() == "true"
    return jsonify(service.submit(request.get_data(cache=False), return_msid=return_msid))


@bp.get("/validate-token")
def validate_token():
    """Whether a token (Authorization header or ?token=) is valid."""
    header = request.headers.get("Authorization")
    given = header.partition(" ")[2].strip() if header else request.args.get("token", "")
    if not given:
        return _error(400, "You need to provide an Authorization token.")
    if auth.check_token(given):  # throttled and audited per client address
        return jsonify({"code": 200, "message": "Token valid.", "valid": True, "user_name": _user_name()})
    return jsonify({"code": 200, "message": "Token invalid.", "valid": False})


@bp.get("/user/<name>/listens")
def get_listens(name):
    """Listens newest first (min_ts, max_ts exclusive; count up to 1000)."""
    _require_user(name)
    min_ts, max_ts = _int_arg("min_ts"), _int_arg("max_ts")
    if min_ts and max_ts and max_ts <= min_ts:
        raise service.ListenBrainzError(400, "max_ts should be greater than min_ts")
    count = min(_int_arg("count", scrobbles.DEFAULT_ITEMS_PER_GET), scrobbles.MAX_ITEMS_PER_GET)
    if count < 0:
        raise service.ListenBrainzError(400, "Number of items requested should be positive")
    return jsonify(scrobbles.listens(name, min_ts, max_ts, count))


@bp.get("/user/<name>/listen-count")
def get_listen_count(name):
    """How many listens AIME holds."""
    _require_user(name)
    return jsonify(scrobbles.listen_count())


@bp.get("/user/<name>/playing-now")
def get_playing_now(name):
    """What plays now (expires after the track's duration, or 10 minutes)."""
    return jsonify(scrobbles.playing_now(_require_user(name)))


@bp.post("/playing-now/delete")
def delete_playing_now():
    """Forget what plays now (only if it came from the named `client`, when given)."""
    _require_token()
    client = _json_body().get("client") if request.get_data() else None
    if client is not None and not isinstance(client, str):
        raise service.ListenBrainzError(400, "The 'client' field must be a string.")
    return jsonify(scrobbles.clear_playing_now(client))


@bp.route("/latest-import", methods=["GET", "POST"])
def latest_import():
    """GET: the newest listened_at imported from a service; POST {ts, service}: move it forward."""
    if request.method == "GET":
        name, service_name = request.args.get("user_name", ""), request.args.get("service", "lastfm")
        if service_name.lower() not in scrobbles.IMPORT_SERVICES:
            raise service.ListenBrainzError(404, f"Service does not exist: {service_name}")
        _require_user(name)
        return jsonify({"musicbrainz_id": name, "latest_import": scrobbles.latest_import(service_name.lower()),
                        "status": None, "error": None})
    _require_token()
    data = _json_body()
    try:
        ts, service_name = int(data.get("ts", 0)), str(data.get("service", "lastfm")).lower()
    except (TypeError, ValueError):
        raise service.ListenBrainzError(400, "Invalid data sent") from None
    if service_name not in scrobbles.IMPORT_SERVICES:
        raise service.ListenBrainzError(400, "Invalid data sent")
    scrobbles.set_latest_import(service_name, ts)
    return jsonify({"status": "ok"})


@bp.post("/delete-listen")
def delete_listen():
    """Delete one listen, named by listened_at and recording_msid."""
    _require_token()
    data = _json_body()
    if "listened_at" not in data:
        raise service.ListenBrainzError(400, "Listen timestamp missing.")
    try:
        listened_at = int(data["listened_at"])
    except (TypeError, ValueError, OverflowError):
        raise service.ListenBrainzError(400, f"{data['listened_at']}: Listen timestamp invalid.") from None
    if "recording_msid" not in data:
        raise service.ListenBrainzError(400, "Recording MSID missing.")
    if not is_uuid(data["recording_msid"]):
        raise service.ListenBrainzError(400, f"{data['recording_msid']}: Recording MSID format invalid.")
    scrobbles.delete_listen(listened_at, data["recording_msid"])
    return jsonify({"status": "ok"})


@bp.post("/feedback/recording-feedback")
def recording_feedback():
    """Love (score 1) or unlove (0, -1) a recording by recording_msid."""
    _require_token()
    data = _json_body()
    if ("recording_msid" not in data and "recording_mbid" not in data) or "score" not in data:
        raise service.ListenBrainzError(400, "JSON document must contain either recording_msid or recording_mbid, "
                                             "and score top level keys")
    if set(data) - {"recording_msid", "recording_mbid", "score"}:
        raise service.ListenBrainzError(400, "JSON document may only contain recording_msid, recording_mbid and "
                                             "score top level keys")
    score, msid, mbid = data["score"], data.get("recording_msid"), data.get("recording_mbid")
    if type(score) is not int or score not in (-1, 0, 1):
        raise service.ListenBrainzError(400, "Invalid JSON document submitted: score should be either 1, 0 or -1")
    for key, value in (("recording_msid", msid), ("recording_mbid", mbid)):
        if value is not None and not is_uuid(value):
            raise service.ListenBrainzError(400, f"Invalid JSON document submitted: {key} is not a valid UUID")
    scrobbles.set_feedback(msid, mbid, score)
    return jsonify({"status": "ok"})


@bp.get("/feedback/user/<name>/get-feedback")
def get_feedback(name):
    """The loved recordings (score 1), upstream's shape."""
    _require_user(name)
    score = _int_arg("score")
    if score and score not in (-1, 1):
        raise service.ListenBrainzError(400, "Score can have a value of 1 or -1.")
    count, offset = _int_arg("count", scrobbles.DEFAULT_ITEMS_PER_GET), _int_arg("offset", 0)
    if count < 0 or offset < 0:
        raise service.ListenBrainzError(400, "'count' and 'offset' should be non-negative integers")
    return jsonify(scrobbles.feedback(name, score, min(count, scrobbles.MAX_ITEMS_PER_GET), offset))


def register(app: Flask) -> None:
    """Mount the compatibility API at both prefixes ListenBrainz clients use."""
    app.register_blueprint(bp, url_prefix="/1")
    app.register_blueprint(bp, url_prefix="/apis/listenbrainz/1", name="listenbrainz_apis")
