"""Request ids (honoured or generated, echoed back) and one access line per request."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("aime.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _incoming_request_id() -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _VALID_ID.match(given) else uuid.uuid4().hex


def init_request_tracking(app: Flask) -> None:
    """Give every request an id and time it."""

    @app.before_request
    def _start():
        g.request_id = _incoming_request_id()
        request.request_id = g.request_id
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = getattr(g, "request_id", "")
        return response
