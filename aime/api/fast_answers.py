"""Kept answers served before Flask's dispatch, with the bytes, headers, counters and access line Flask's would have.

A GET that conditional_get (aime/api/conditional.py) answers from its kept answers costs most of its CPU in Flask's
request machinery (a Request, a URL match, two context pushes, five before-, three after- and three teardown hooks),
none of which changes that answer. So conditional_get tells this module each URL it served a kept answer for
(`learn`: the environ's script name, path and query, the answer's key, its URL rule and path), and the next GET of
that exact URL is answered here (`serve`) when its answer is kept at the data version read now and nothing else in
the request could change the answer or its headers: no If-None-Match, a Host Flask already accepted, no Upgrade, no
forwarded scheme to weigh. Any other request is Flask's, as is any error before the answer is sent (the version
read's, the count's): it is handed over (ERROR_KEY) and raised where conditional_get would have read the version, so
the problem+json answer, its count and its log line are Flask's.

What AIME's hooks do for such a request is done here, in their order: the request id (the client's or a new one),
the in-flight entry (worker_abort's list), the deadline (the version read runs under it, and a late answer becomes
the 503 Flask gives), X-Request-ID, nosniff and, over HTTPS, HSTS, the request counted and timed (observe_request),
the access line with the fields the request filter would add. Only while the app has exactly those hooks (by name),
none on the route's blueprints, no receiver on Flask's request signals (Sentry's integration connects one),
AIME_PRIVATE off (reads need no token) and no CORS origins (no Origin to weigh): `serving` says so once, when the
app first learns a URL (Flask accepts no new hook after its first request).

tests/api/test_fast_answers.py compares the two paths' whole answers, counters and access lines for every route.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask, Request, signals
from sqlalchemy.engine import Engine

from .. import deadlines
from ..config import config_of
from ..errors import DeadlineExceeded
from ..observability.metrics import PROBE_PATHS, observe_request
from ..observability.requests import INFLIGHT_KEY, incoming_request_id, log as access_log
from ..security_headers import HSTS
from ..services import data_version

KEY = "aime.fast_answers"
ERROR_KEY = "aime.fast_answer_error"  # an error the version read raised here, for conditional_get to raise
MAX_ROUTES = 1024  # then forgotten at once and learnt again (any client can ask for any URL)

# The hooks this module does the work of, in Flask's order (before: as registered; after: the reverse).
_BEFORE = ("aime.observability.requests.init_request_tracking.<locals>._start",
           "aime.deadlines.init_deadlines.<locals>._start_deadline",
           "aime.auth.protect_api.<locals>._check_token",  # a GET needs no token unless AIME_PRIVATE
           "aime.api.audioscrobbler.register.<locals>._legacy_handshake",  # only for / and its legacy path
           "aime.body_limits.init_body_limits.<locals>._apply_limit")  # a limit on a body no kept view reads
_AFTER = ("aime.security_headers.init_security_headers.<locals>._security_headers",
          "aime.observability.requests.init_request_tracking.<locals>._finish",
          "aime.deadlines.init_deadlines.<locals>._late_response")
_TEARDOWN = ("aime.observability.requests.init_request_tracking.<locals>._done",
             "aime.deadlines.init_deadlines.<locals>._end_deadline")
_APP_TEARDOWN = ("aime.extensions.AimeSQLAlchemy._teardown_session",)  # removes a session: none is opened here
_SIGNALS = (signals.request_started, signals.request_finished, signals.request_tearing_down,
            signals.got_request_exception, signals.appcontext_pushed, signals.appcontext_popped,
            signals.appcontext_tearing_down)


@dataclass(frozen=True)
class Route:
    """What a learnt URL's answer is kept under, and what its count and access line name."""

    key: str  # conditional_get's key (request.full_path)
    endpoint: str  # the URL rule: the metrics' label
    path: str  # request.path: the access line's


class FastAnswers:
    """One app's learnt URLs, and the answering of them."""

    def __init__(self, app: Flask, engine: Engine, cache_of, etag) -> None:
        config = config_of(app)
        # cache_of(app): the app's ResponseCache (looked up per request: a test may give the app a new one);
        # etag(app, version, key): the answer's ETag, as conditional_get computes it.
        self.app, self.engine, self.cache_of, self.etag = app, engine, cache_of, etag
        self.routes: dict[tuple[str | None, str | None, str | None], Route] = {}
        self.inflight = app.extensions[INFLIGHT_KEY]
        self.forwarded_scheme = bool(config.trusted_proxies)  # X-Forwarded-Proto may then ask for HSTS
        self.served = 0  # answers given here (tests)

    def learn(self, request: Request, key: str) -> None:
        """Remember that GETs of this request's URL are answered from the answer kept under `key`."""
        environ = request.environ
        raw = (environ.get("SCRIPT_NAME"), environ.get("PATH_INFO"), environ.get("QUERY_STRING"))
        if raw in self.routes or request.method != "GET" or _blueprint_hooks(self.app, request.blueprints):
            return
        if len(self.routes) >= MAX_ROUTES:
            self.routes.clear()
        self.routes[raw] = Route(key, request.url_rule.rule, request.path)

    def serve(self, environ: dict, start_response):
        """The kept answer of a learnt GET as Flask would send it, or None: Flask answers this request."""
        if environ["REQUEST_METHOD"] != "GET":
            return None
        route = self.routes.get((environ.get("SCRIPT_NAME"), environ.get("PATH_INFO"), environ.get("QUERY_STRING")))
        if route is None or not self._plain(environ):
            return None
        started = time.perf_counter()
        request_id = incoming_request_id(environ)
        thread = threading.get_ident()
        self.inflight[thread] = ("GET", route.path, request_id, time.monotonic())
        config = config_of(self.app)
        deadlines.start(config.timeout)
        try:
            version = data_version.on_thread(self.engine, config.sqlite_busy_timeout_ms)
            known = version is not None and version is not data_version.NO_READER
            stored = self.cache_of(self.app).get(route.key, version) if known else None
            if stored is None:
                return None
            served = stored.served(self.etag(self.app, version, route.key))
            headers = [*served, ("X-Request-ID", request_id), *_security_headers(served, environ["wsgi.url_scheme"])]
            if deadlines.expired():  # finished past the deadline: Flask's answer is its 503
                environ[ERROR_KEY] = DeadlineExceeded()
                return None
            self._finish(route, request_id, time.perf_counter() - started)
        except Exception as error:  # noqa: BLE001 - raised again in Flask's path, which answers it as any error
            environ[ERROR_KEY] = error
            return None
        finally:
            deadlines.clear()
            self.inflight.pop(thread, None)
        self.served += 1
        start_response("200 OK", headers)
        return [stored.body]

    def _plain(self, environ: dict) -> bool:
        """True when nothing but the URL decides this GET's answer and headers (the module's docstring)."""
        if "HTTP_IF_NONE_MATCH" in environ or (self.forwarded_scheme and "HTTP_X_FORWARDED_PROTO" in environ):
            return False
        for signal in _SIGNALS:
            if signal.receivers:
                return False
        return self.app.knows_host(environ)

    def _finish(self, route: Route, request_id: str, elapsed: float) -> None:
        # As requests._finish: counted, then the access line with the fields RequestContextFilter adds.
        observe_request(self.app, "GET", route.endpoint, 200, elapsed)
        level = logging.DEBUG if route.endpoint in PROBE_PATHS else logging.INFO
        if access_log.isEnabledFor(level):
            access_log.log(level, "%s %s %s", "GET", route.path, 200,
                           extra={"status": 200, "duration_ms": round(elapsed * 1000, 2), "request_id": request_id,
                                  "method": "GET", "path": route.path})


_TAILS: dict[tuple[tuple[str, str], ...], tuple[tuple[tuple[str, str], ...], ...]] = {}


def _security_headers(served: tuple[tuple[str, str], ...], scheme: str) -> tuple[tuple[str, str], ...]:
    """What security_headers adds after the view's headers, over http and over https (worked out once per answer:
    `served` is the same tuple for every request of an answer and ETag)."""
    tails = _TAILS.get(served)
    if tails is None:
        names = {name.lower() for name, _value in served}
        nosniff = () if "x-content-type-options" in names else (("X-Content-Type-Options", "nosniff"),)
        hsts = () if "strict-transport-security" in names else (("Strict-Transport-Security", HSTS),)
        if len(_TAILS) > MAX_ROUTES:
            _TAILS.clear()
        tails = _TAILS[served] = (nosniff, nosniff + hsts)
    return tails[scheme == "https"]


def _names(functions) -> tuple[str, ...]:
    return tuple(f"{function.__module__}.{function.__qualname__}" for function in functions)


def _blueprint_hooks(app: Flask, blueprints: list[str]) -> bool:
    """True when a blueprint the request goes through has hooks of its own (this module does none of them)."""
    kinds = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs,
             app.url_value_preprocessors)
    return any(kind.get(name) for name in blueprints for kind in kinds)


def serving(app: Flask) -> bool:
    """Whether kept answers may be served before Flask's dispatch in this app (see the module's docstring)."""
    config = config_of(app)
    return (not config.private and not config.cors_origins
            and _names(app.before_request_funcs.get(None, ())) == _BEFORE
            and _names(app.after_request_funcs.get(None, ())) == _AFTER
            and _names(app.teardown_request_funcs.get(None, ())) == _TEARDOWN
            and _names(app.teardown_appcontext_funcs) == _APP_TEARDOWN
            and not app.url_value_preprocessors.get(None))


def fast_answers(app: Flask, engine: Engine, cache_of, etag) -> FastAnswers | None:
    """This app's FastAnswers (made at the first call, and served from then on), or None when it may not have any."""
    known = app.extensions.get(KEY)
    if known is None:
        known = app.extensions.setdefault(KEY, FastAnswers(app, engine, cache_of, etag) if serving(app) else False)
        if known:
            app.fast_answers = known
    return known or None
