"""Conditional GETs for the hot reads: an ETag per data version, 304 without work, answers kept per worker.

A read's answer depends only on the URL, the data and the code, so `ETag` = hash(data version, URL, code
fingerprint, default time zone). A client (or proxy) told `Cache-Control: private, no-cache` revalidates
every time; when its `If-None-Match` still matches, the answer is 304 with no query run and nothing
serialised. Clients that do not revalidate get the same saving from a small per-worker cache of the last
200 answer per URL, reused while the data version is unchanged. The version is read from the database on
every request (aime/services/data_version.py), so a write is visible to the next read in every worker. Threads of
a worker that miss the same (URL, version) at once wait for the first one's answer instead of each building it, and
under gunicorn a worker that misses an answer another worker already built at that version reads it from their
shared directory (aime/server/shared_answers.py) instead of building it again.
"""
from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Flask, Response, current_app, make_response, request
from werkzeug.datastructures import Headers
from werkzeug.http import quote_etag
from flask_smorest import Blueprint

from ..config import config_of
from ..errors import InvalidInput
from ..extensions import db
from ..flask_app import AimeResponse
from ..server.shared_answers import SharedAnswers, shared_answers
from ..services import data_version
from ..services.single_flight import SingleFlight
from . import fast_answers
from ..timeutil import zone

CACHE_CONTROL = "private, no-cache"
MAX_ENTRIES = 256
MAX_BODY_BYTES = 1_000_000  # a larger answer (a journal page of 1,000 plays is ~300 kB) is not kept
MAX_TOTAL_BYTES = 32_000_000
_VALIDATORS = frozenset({"etag", "cache-control"})  # set on every 200 or 304 by _validated
_NOT_MODIFIED = "Not modified: the `If-None-Match` ETag is the current one (nothing changed since)."


@dataclass(frozen=True)
class Stored:
    """A 200 answer as the view built it (before the app's after-request headers)."""

    version: str
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def served(self, etag: str) -> tuple[tuple[str, str], ...]:
        """The headers it is sent again with: the view's, its ETag and Cache-Control (worked out once per answer)."""
        known = self.__dict__.get("_served")
        if known is None or known[0] != etag:
            kept = [(name, value) for name, value in self.headers if name.lower() not in _VALIDATORS]
            # Through werkzeug's Headers once (the pairs of another worker's answer were read from a file): every
            # response then takes them as they are (AimeResponse.kept).
            served = Headers([*kept, ("ETag", quote_etag(etag)), ("Cache-Control", CACHE_CONTROL)])
            known = (etag, tuple(served.items()))
            object.__setattr__(self, "_served", known)  # a cache of a pure function of the frozen fields
        return known[1]


class ResponseCache:
    """The newest 200 answer per URL with the data version it was computed at; bounded LRU, thread-safe."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_total_bytes: int = MAX_TOTAL_BYTES,
                 shared: SharedAnswers | None = None) -> None:
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._flights = SingleFlight()  # (key, version) being built
        self.max_entries, self.max_total_bytes = max_entries, max_total_bytes
        self.shared = shared  # the answers the other workers built (None: one process, or not under gunicorn)

    @property
    def waits(self) -> int:
        """How many threads waited for another thread's build of the same answer."""
        return self._flights.waits

    def get(self, key: str, version: str) -> Stored | None:
        """The stored answer of `key` if it was computed at `version`."""
        with self._lock:
            stored = self._entries.get(key)
            if stored is None or stored.version != version:
                return None
            self._entries.move_to_end(key)
            return stored

    def holds(self, key: str) -> bool:
        """True when an answer (of any version) is kept for `key`."""
        return key in self._entries

    def building(self, key: str, version: str):
        """A context giving True to the one thread that builds `key` at `version`; a thread arriving meanwhile
        waits until that thread is done, then gets False (single flight: a cold worker under load builds an answer
        once, not once per thread, each slowed down by the others under the GIL)."""
        return self._flights.leading((key, version))

    def put(self, key: str, stored: Stored) -> None:
        """Keep `stored` for `key`, evicting the least recently used answers beyond the bounds."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = stored
            self._bytes += len(stored.body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_total_bytes:
                _key, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)


def conditional_get(blp: Blueprint, vary: Callable[[], str] | None = None):
    """Decorate a GET view (outside its flask-smorest decorators): ETag, 304 on a match, per-worker reuse.

    `vary` returns what else the answer depends on besides the URL and the data (e.g. today's date for a view
    whose default period ends today); it becomes part of the cache key and of the ETag."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            key = request.full_path if vary is None else f"{request.full_path}|{vary()}"
            version = _version(key)
            if version is None:  # no counter (database not migrated): answer without any of this
                return view(*args, **kwargs)
            etag = _etag(current_app, version, key)
            if request.if_none_match and not request.if_none_match.star_tag \
                    and request.if_none_match.contains_weak(etag):
                return _validated(current_app.response_class(status=304), etag)
            return _answer(view, args, kwargs, version, key, etag, learn=vary is None)
        return blp.alt_response(304, description=_NOT_MODIFIED)(wrapper)
    return decorate


def _version(key: str) -> str | None:
    """The data version, read once per request (kept in the request's environ for answer_memo).

    When nothing may be answered without the view (no answer kept for `key`, no `If-None-Match`), the view
    queries anyway: the version is the first statement of its session (one checkout, one ping). Otherwise it
    is read alone in autocommit (aime/services/data_version.py), so a 304 or a kept answer opens no session (and
    on SQLite checks no pooled connection out). An error that read raised before Flask's dispatch
    (aime/api/fast_answers.py) is raised here, as if raised now."""
    failed = request.environ.pop(fast_answers.ERROR_KEY, None)
    if failed is not None:
        raise failed
    if request.if_none_match or response_cache(current_app).holds(key):
        version = data_version.current()
    else:
        version = data_version.in_session(db.session)
    request.environ[data_version.ENVIRON_KEY] = version  # per request (g may outlive it, e.g. in tests)
    return version


def _answer(view, args, kwargs, version: str, key: str, etag: str, learn: bool) -> Response:
    app = current_app._get_current_object()
    cache = response_cache(app)
    stored = cache.get(key, version)
    if stored is None:
        with cache.building(key, version) as first:
            stored = cache.get(key, version) if not first else _from_other_workers(cache, key, version)
            if stored is None:  # the first thread, or the first one's answer was not kept (an error, too large)
                return _validated(_built(view, args, kwargs, version, key, cache), etag)
    fast = fast_answers.fast_answers(app, db.engine, response_cache, _etag) if learn else None
    if fast is not None:  # this URL's next GETs are answered before Flask's dispatch (aime/api/fast_answers.py)
        fast.learn(request, key)
    # The kept answer with its ETag and Cache-Control already among its headers: as _validated would set them.
    return AimeResponse.kept(stored.body, stored.served(etag))


def _from_other_workers(cache: ResponseCache, key: str, version: str) -> Stored | None:
    """The answer another worker built at this version (now kept here too), else None."""
    found = cache.shared.get(_shared_key(key), version) if cache.shared is not None else None
    if found is None:
        return None
    stored = Stored(version, found.body, found.headers)
    cache.put(key, stored)
    return stored


def _shared_key(key: str) -> str:
    """`key` for the shared directory: with the code's fingerprint, as workers of old and new code share it for a
    moment after a reload (SIGHUP)."""
    return f"{key}|{_salt(current_app)}"


def _built(view, args, kwargs, version: str, key: str, cache: ResponseCache) -> Response:
    response = make_response(view(*args, **kwargs))
    if response.status_code == 200 and not response.is_streamed:
        body = response.get_data()
        if len(body) <= MAX_BODY_BYTES:
            headers = tuple(response.headers.items())
            cache.put(key, Stored(version, body, headers))
            if cache.shared is not None:
                cache.shared.put(_shared_key(key), version, body, headers)
    return response


def local_today() -> str:
    """What a statistics answer depends on besides its URL and the data: today's date in the request's zone (an
    open period or the timeline's default day ends today) and the longest period allowed (a 200 or a 422)."""
    config = config_of(current_app)
    try:
        tz = zone(request.args.get("tz"), config.timezone)
    except InvalidInput:  # the view answers 422, which is never kept
        tz = zone(None, config.timezone)
    return f"{datetime.now(tz).date().isoformat()}|{config.max_range_days}"


def _validated(response: Response, etag: str) -> Response:
    if response.status_code in (200, 304):
        response.set_etag(etag)
        response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def _etag(app: Flask, version: str, key: str) -> str:
    salt = _salt(app)
    return hashlib.blake2b(f"{version}|{key}|{salt}".encode(), digest_size=12).hexdigest()


def response_cache(app: Flask) -> ResponseCache:
    """This app's (this worker's) response cache."""
    cache = app.extensions.get("aime.response_cache")
    if cache is None:
        cache = app.extensions.setdefault("aime.response_cache", ResponseCache(shared=shared_answers()))
    return cache


def code_fingerprint(app: Flask) -> str:
    """What else an answer depends on: the code (a fingerprint of AIME's sources) and the default time zone; taken
    once per worker (aime/server/hooks.py takes it before the worker serves)."""
    return _salt(app)


def _salt(app: Flask) -> str:
    """What else an answer depends on: the code (a fingerprint of AIME's sources) and the default time zone."""
    salt = app.extensions.get("aime.etag_salt")
    if salt is None:
        digest = hashlib.blake2b(digest_size=8)
        for path in sorted(Path(__file__).resolve().parent.parent.rglob("*.py")):
            digest.update(path.read_bytes())
        timezone = config_of(app).timezone
        salt = app.extensions.setdefault("aime.etag_salt", f"{digest.hexdigest()}|{timezone}")
    return salt
