"""Probe endpoints outside /api/v1: /live, /ready, /health, /metrics. No auth for the summary."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from .. import auth
from ..config import current_config
from ..errors import Unauthorized
from ..observability.metrics import exposition
from .readiness import readiness
from .report import health_body, http_status, max_age

blp = Blueprint("health", __name__)
HEALTH_JSON = "application/health+json"
READY_BODY = b'{"ready":true}\n'


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
        return _no_store(app.response_class(READY_BODY, mimetype="application/json"))
    return _no_store(jsonify({"ready": False, "reasons": reasons})), 503


@blp.get("/health")
def health():
    """The full picture; application/health+json when asked for it."""
    app = current_app._get_current_object()
    wants_inadarei = request.accept_mimetypes.best_match(["application/json", HEALTH_JSON]) == HEALTH_JSON
    # AIME_PRIVATE=1: anonymous callers learn only the verdict (monitors and start-services.sh need it),
    # not uptime, request and error counters or checker names.
    status, text = health_body(app, wants_inadarei, _show_details(), _hidden_in_private_mode())
    response = app.response_class(text, status=http_status(status),
                                  mimetype=HEALTH_JSON if wants_inadarei else "application/json")
    response.headers["Cache-Control"] = f"max-age={max_age(app, status)}"
    response.headers["Vary"] = "Accept, Authorization"  # set whole: vary.add parses and re-joins the header
    return response


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
