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


def incoming_request_id(environ: dict) -> str:
    """The client's X-Request-ID when it is a valid one, else a new id."""
    given = environ.get("HTTP_X_REQUEST_ID", "")  # the X-Request-ID header, without building request.headers
    return given if _VALID_ID.match(given) else new_request_id()


def new_request_id() -> str:
    """32 random hex digits, like uuid4().hex, from the process's Mersenne Twister (reseeded in every forked
    worker). An id only has to be unique, not secret; uuid4 reads os.urandom, a system call that lets go of the
    GIL, so under load every request waited for the GIL again there (8 % of a worker's samples on /live)."""
    return f"{random.getrandbits(128):032x}"


def _endpoint_label(rule) -> str:
    # The route template, not the raw path: /albums/<int:album_id> is one label, not one per album.
    return rule.rule if rule is not None else "<unmatched>"


def inflight_requests(app: Flask) -> dict[int, dict]:
    """Requests being served right now, by thread id (worker_abort logs their stacks)."""
    return {thread: {"method": method, "path": path, "request_id": request_id, "started": started}
            for thread, (method, path, request_id, started) in list(app.extensions.get(INFLIGHT_KEY, {}).items())}


def init_request_tracking(app: Flask) -> None:
    """Give every request an id, time it, count it (probes apart) and log one access line."""
    init_metrics(app)
    # thread id -> (method, path, request id, monotonic start): a tuple per request, the dict built only when asked
    inflight: dict[int, tuple[str, str, str, float]] = app.extensions.setdefault(INFLIGHT_KEY, {})

    @app.before_request
    def _start():
        current = request._get_current_object()  # one context lookup, not one per attribute
        request_id = current.request_id = incoming_request_id(current.environ)
        g.request_id = request_id
        g.started = time.perf_counter()
        inflight[threading.get_ident()] = (current.method, current.path, request_id, time.monotonic())

    @app.teardown_request
    def _done(_error=None):
        inflight.pop(threading.get_ident(), None)

    @app.after_request
    def _finish(response):
        current = request._get_current_object()
        request_id = getattr(current, "request_id", "")  # absent when a before_request hook ahead of _start failed
        response.headers["X-Request-ID"] = request_id
        now = time.perf_counter()
        elapsed = now - g.get("started", now)
        endpoint = _endpoint_label(current.url_rule)
        status = response.status_code
        observe_request(app, current.method, endpoint, status, elapsed)
        level = logging.DEBUG if endpoint in PROBE_PATHS else logging.INFO
        if log.isEnabledFor(level):  # the line's fields are worked out only when it is written
            log.log(level, "%s %s %s", current.method, current.path, status,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2)})
        if current.method in WRITE_METHODS and status < 400:
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
