"""Probe endpoints outside /api/v1: /live, /ready, /health, /metrics. No auth for the summary."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header
from prometheus_client import CONTENT_TYPE_LATEST

from .. import auth
from ..config import config_of, current_config
from ..errors import Unauthorized
from ..observability.metrics import exposition
from .readiness import readiness
from .report import HEALTH_JSON, health_answer

blp = Blueprint("health", __name__)
READY_BODY = b'{"ready":true}\n'
ACCEPT_VERDICTS_KEPT = 64
_ACCEPT_VERDICTS: dict[str, bool] = {}


def _show_details() -> bool:
    mode = current_config().health_details
    return mode == "always" or (mode == "token" and auth.is_authenticated())


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/live")
def live():
    """The process answers; no dependency is consulted."""
    return _no_store(jsonify(alive=True))


@blp.get("/ready")
def ready():
    """200 when this instance may take traffic, else 503 with the reasons."""
    app = current_app._get_current_object()
    ok, reasons = readiness(app)
    if ok:  # the body every probe gets, as jsonify writes it, without encoding it again each time
        response = app.response_class(READY_BODY, content_type="application/json")
        response.headers.add("Cache-Control", "no-store")  # a new response has none: add, not set
        return response
    return _no_store(jsonify({"ready": False, "reasons": reasons})), 503


@blp.get("/health")
def health():
    """The full picture; application/health+json when asked for it."""
    app = current_app._get_current_object()
    environ = request.environ
    wants_inadarei = _wants_inadarei(environ.get("HTTP_ACCEPT"))
    # AIME_PRIVATE=1: anonymous callers learn only the verdict (monitors and start-services.sh need it),
    # not uptime, request and error counters or checker names.
    if "HTTP_AUTHORIZATION" in environ:  # a token may be presented: checked (and throttled) as on any request
        details, hidden = _show_details(), _hidden_in_private_mode()
    else:  # no token: what _show_details() and _hidden_in_private_mode() say without one
        config = config_of(app)
        details, hidden = config.health_details == "always", config.private
    answer = health_answer(app, wants_inadarei, details, hidden)
    response = app.response_class(answer.body, status=answer.code, content_type=answer.content_type)
    headers = response.headers  # a new response has neither header: add, not set (which looks for one first)
    headers.add("Cache-Control", answer.cache_control)
    headers.add("Vary", "Accept, Authorization")
    return response


def _wants_inadarei(accept: str | None) -> bool:
    """Whether an Accept header prefers application/health+json to application/json (werkzeug's best_match),
    remembered per header text: probes send the same one or two headers every time."""
    if not accept:
        return False
    known = _ACCEPT_VERDICTS.get(accept)
    if known is None:
        known = parse_accept_header(accept, MIMEAccept).best_match(["application/json", HEALTH_JSON]) == HEALTH_JSON
        if len(_ACCEPT_VERDICTS) >= ACCEPT_VERDICTS_KEPT:
            _ACCEPT_VERDICTS.clear()
        _ACCEPT_VERDICTS[accept] = known
    return known


def _hidden_in_private_mode() -> bool:
    return current_config().private and not auth.is_authenticated()


def _metrics_allowed() -> bool:
    """With AIME_PRIVATE=1, /metrics needs the API token or AIME_METRICS_TOKEN (a scrape-only secret)."""
    config = current_config()
    if not config.private:
        return True
    given = auth.presented_token()
    if given and config.metrics_token and hmac.compare_digest(given.encode(), config.metrics_token.encode()):
        return True
    return given is not None and auth.check_token(given)


@blp.get("/metrics")
def metrics():
    """Prometheus text exposition, summed over every worker (private mode: token or scrape token)."""
    if not _metrics_allowed():
        raise Unauthorized("AIME_PRIVATE=1: /metrics needs Authorization: Bearer <AIME_METRICS_TOKEN or API token>.")
    return Response(exposition(current_app._get_current_object()), mimetype=CONTENT_TYPE_LATEST)
