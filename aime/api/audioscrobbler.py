"""Last.fm-compatible scrobbling: Audioscrobbler 2.0 (/2.0/) and the legacy 1.2 protocol (/?hs=true&p=1.2).

Outside /api/v1: answers are Last.fm's (XML by default, JSON with format=json; error codes), because the
clients parse those. The logic lives in services/audioscrobbler.py.
"""
from __future__ import annotations

import hmac
import time
import xml.etree.ElementTree as ET

from flask import Blueprint, Flask, Response, jsonify, request

from .. import auth
from ..config import current_config
from ..errors import TooManyRequests
from ..services import audioscrobbler as service
from ..services.importers.common import RowError

bp = Blueprint("audioscrobbler", __name__)
legacy = Blueprint("audioscrobbler_legacy", __name__)
HANDSHAKE_SKEW = 24 * 3600  # 1.2 refuses handshakes whose t is this far from the server clock (BADTIME)


def _answer(body: ET.Element | None, data: dict, status: int = 200) -> Response:
    if request.values.get("format") == "json":
        response = jsonify(data)
        response.status_code = status
        return response
    root = ET.Element("lfm", status="ok" if status == 200 else "failed")
    if body is not None:
        root.append(body)
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
    return Response(xml, status=status, mimetype="text/xml")


@bp.errorhandler(service.LastfmError)
def _lastfm_error(error: service.LastfmError):
    element = ET.Element("error", code=str(error.code))
    element.text = error.message
    return _answer(element, {"error": error.code, "message": error.message}, error.status)


def _sub(parent: ET.Element, tag: str, value, **attrs) -> ET.Element:
    child = ET.SubElement(parent, tag, **attrs)
    child.text = "" if value is None else str(value)
    return child


def _track_element(tag: str, item: dict) -> ET.Element:
    element = ET.Element(tag)
    for name in ("track", "artist", "album"):
        _sub(element, name, item[name], corrected="0")
    _sub(element, "albumArtist", "", corrected="0")
    if "timestamp" in item:
        _sub(element, "timestamp", item["timestamp"])
    code, message = item.get("ignored", (0, ""))
    _sub(element, "ignoredMessage", message, code=str(code))
    return element


def _track_json(item: dict) -> dict:
    data = {name: {"corrected": "0", "#text": item[name]} for name in ("track", "artist", "album")}
    data["albumArtist"] = {"corrected": "0", "#text": ""}
    if "timestamp" in item:
        data["timestamp"] = str(item["timestamp"])
    code, message = item.get("ignored", (0, ""))
    data["ignoredMessage"] = {"code": str(code), "#text": message}
    return data


def _session(params: dict) -> None:
    service.check_session(auth.current_token(), current_config().user_name, params.get("sk"))


@bp.route("/", methods=["GET", "POST"])
def web_service():
    """The Audioscrobbler 2.0 web service: one endpoint, the method named by `method`."""
    params = request.values.to_dict()
    method = (params.get("method") or "").lower()
    handler = METHODS.get(method)
    if handler is None:
        raise service.LastfmError(3)
    service.check_signature(params, current_config().lastfm_shared_secret)
    return handler(params)


def _get_mobile_session(params: dict) -> Response:
    user = current_config().user_name
    _refuse_if_throttled()
    try:
        key = service.mobile_session(params, user, auth.token_matches, auth.current_token())
    except service.LastfmError as error:
        if error.code == 4:  # a wrong password counts against the address, like a wrong API token
            auth.record_failure("wrong Last.fm password")
        raise
    element = ET.Element("session")
    _sub(element, "name", user)
    _sub(element, "key", key)
    _sub(element, "subscriber", 0)
    return _answer(element, {"session": {"name": user, "key": key, "subscriber": 0}})


def _update_now_playing(params: dict) -> Response:
    _session(params)
    item = service.now_playing(params.get("artist"), params.get("track"), params.get("album"),
                               params.get("duration"))
    return _answer(_track_element("nowplaying", item), {"nowplaying": _track_json(item)})


def _scrobble(params: dict) -> Response:
    _session(params)
    results = service.scrobble(params)
    accepted = sum(1 for item in results if item["ignored"][0] == 0)
    element = ET.Element("scrobbles", accepted=str(accepted), ignored=str(len(results) - accepted))
    for item in results:
        element.append(_track_element("scrobble", item))
    scrobbles = [_track_json(item) for item in results]
    return _answer(element, {"scrobbles": {"@attr": {"accepted": accepted, "ignored": len(results) - accepted},
                                           "scrobble": scrobbles[0] if len(scrobbles) == 1 else scrobbles}})


def _love(loved: bool):
    def handler(params: dict) -> Response:
        _session(params)
        service.set_love(params.get("artist"), params.get("track"), loved)
        return _answer(None, {})
    return handler


METHODS = {"auth.getmobilesession": _get_mobile_session, "track.updatenowplaying": _update_now_playing,
           "track.scrobble": _scrobble, "track.love": _love(True), "track.unlove": _love(False)}


def _plain(text: str, status: int = 200) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


def handshake() -> Response | None:
    """Legacy 1.2 handshake, GET /?hs=true&p=1.2&u=..&t=..&a=md5(md5(token)+t); None when not a handshake."""
    if request.args.get("hs") != "true":
        return None
    args = request.args
    if not (args.get("p") or "").startswith("1.2"):
        return _plain("FAILED Protocol version not supported (use 1.2 or 1.2.1)", 400)
    user, stamp, given = args.get("u") or "", args.get("t") or "", (args.get("a") or "").lower()
    if not stamp.isdigit() or abs(int(stamp) - time.time()) > HANDSHAKE_SKEW:
        return _plain("BADTIME")
    token = auth.current_token()
    try:
        _refuse_if_throttled()
    except service.LastfmError:
        return _plain("FAILED Too many failed authentications from this address; try again later", 429)
    expected = service.md5(service.md5(token) + stamp)
    if user.lower() != current_config().user_name.lower() or not hmac.compare_digest(given.encode(), expected.encode()):
        auth.record_failure("wrong Last.fm 1.2 handshake")
        return _plain("BADAUTH")
    base = request.host_url.rstrip("/") + "/audioscrobbler/1.2"
    return _plain(f"OK\n{service.session_key(token, current_config().user_name)}\n{base}/nowplaying\n{base}/submission")


def _legacy_session() -> bool:
    try:
        service.check_session(auth.current_token(), current_config().user_name, request.form.get("s"))
    except service.LastfmError:
        return False
    return True


@legacy.post("/nowplaying")
def legacy_now_playing():
    """1.2 now-playing notification: s, a, t, b, l."""
    if not _legacy_session():
        return _plain("BADSESSION")
    form = request.form
    try:
        service.now_playing(form.get("a"), form.get("t"), form.get("b"), form.get("l"))
    except service.LastfmError as error:
        return _plain(f"FAILED {error.message}")
    return _plain("OK")


@legacy.post("/submission")
def legacy_submission():
    """1.2 submission: up to 50 of a[i], t[i], i[i] (start time), b[i], l[i], r[i] (L = love)."""
    if not _legacy_session():
        return _plain("BADSESSION")
    form = request.form
    params, loves = {}, []
    for i in range(service.MAX_SCROBBLES + 1):
        if f"t[{i}]" not in form:
            continue
        params.update({f"artist[{i}]": form.get(f"a[{i}]"), f"track[{i}]": form.get(f"t[{i}]"),
                       f"album[{i}]": form.get(f"b[{i}]"), f"timestamp[{i}]": form.get(f"i[{i}]")})
        if form.get(f"r[{i}]") == "L":
            loves.append((form.get(f"a[{i}]"), form.get(f"t[{i}]")))
    try:
        service.scrobble(params)
        for artist, title in loves:
            service.set_love(artist, title, True)
    except (service.LastfmError, RowError) as error:
        return _plain(f"FAILED {error}")
    return _plain("OK")


def register(app: Flask) -> None:
    """Mount /2.0/ (also /apis/audioscrobbler/2.0/), the 1.2 endpoints and the handshake at /."""
    app.register_blueprint(bp, url_prefix="/2.0")
    app.register_blueprint(bp, url_prefix="/apis/audioscrobbler/2.0", name="audioscrobbler_apis")
    app.register_blueprint(legacy, url_prefix="/audioscrobbler/1.2")

    @app.before_request
    def _legacy_handshake():
        if request.path in ("/", "/apis/audioscrobbler_legacy/") and request.method == "GET":
            return handshake()
        return None


def _refuse_if_throttled() -> None:
    """Last.fm's error 29 when this address failed to authenticate too often (shared with the API's throttle)."""
    try:
        auth.refuse_if_throttled()
    except TooManyRequests:
        raise service.LastfmError(29) from None
