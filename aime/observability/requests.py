"""Request ids (honoured or generated, echoed back), one access line and the counters per request."""
from __future__ import annotations

import logging
import random
import re
import threading
import time

from flask import Flask, g, request

from .metrics import PROBE_PATHS, init_metrics, observe_request

log = logging.getLogger("aime.access")
audit_log = logging.getLogger("aime.audit")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
INFLIGHT_KEY = "aime.inflight"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _incoming_request_id() -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _VALID_ID.match(given) else new_request_id()


def new_request_id() -> str:
    """32 random hex digits, like uuid4().hex, from the process's Mersenne Twister (reseeded in every forked
    worker). An id only has to be unique, not secret; uuid4 reads os.urandom, a system call that lets go of the
    GIL, so under load every request waited for the GIL again there (8 % of a worker's samples on /live)."""
    return f"{random.getrandbits(128):032x}"


def _endpoint_label() -> str:
    # The route template, not the raw path: /albums/<int:album_id> is one label, not one per album.
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def inflight_requests(app: Flask) -> dict[int, dict]:
    """Requests being served right now, by thread id (worker_abort logs their stacks)."""
    return dict(app.extensions.get(INFLIGHT_KEY, {}))


def init_request_tracking(app: Flask) -> None:
    """Give every request an id, time it, count it (probes apart) and log one access line."""
    init_metrics(app)
    inflight: dict[int, dict] = app.extensions.setdefault(INFLIGHT_KEY, {})

    @app.before_request
    def _start():
        g.request_id = _incoming_request_id()
        request.request_id = g.request_id
        g.started = time.perf_counter()
        inflight[threading.get_ident()] = {"method": request.method, "path": request.path,
                                           "request_id": g.request_id, "started": time.monotonic()}

    @app.teardown_request
    def _done(_error=None):
        inflight.pop(threading.get_ident(), None)

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = getattr(g, "request_id", "")
        elapsed = time.perf_counter() - getattr(g, "started", time.perf_counter())
        endpoint = _endpoint_label()
        observe_request(app, request.method, endpoint, response.status_code, elapsed)
        level = logging.DEBUG if endpoint in PROBE_PATHS else logging.INFO
        log.log(level, "%s %s %s", request.method, request.path, response.status_code,
                extra={"status": response.status_code, "duration_ms": round(elapsed * 1000, 2)})
        if request.method in WRITE_METHODS and response.status_code < 400:
            _audit(endpoint, response)
        return response


def _resource_id(response):
    # The id in the URL (PUT /albums/5) or, for creations, the id of what was created.
    for key, value in (request.view_args or {}).items():
        if key == "id" or key.endswith("_id"):
            return value
    if response.is_json and not response.direct_passthrough:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("id"), (int, str)):
            return body["id"]
    return None


def _audit(endpoint: str, response) -> None:
    """One audit line per successful write: who (token id, never the token), what, which id."""
    audit_log.info("audit: %s %s -> %s", request.method, request.path, response.status_code,
                   extra={"audit": True, "token_id": getattr(g, "token_id", None), "action": request.method,
                          "endpoint": endpoint, "resource_id": _resource_id(response),
                          "status": response.status_code})
