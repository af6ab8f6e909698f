"""Answers of the expensive reads (statistics, timelines) kept per worker while the data version is unchanged.

A statistic depends only on its arguments and on the data, and the data version (aime/services/data_version.py)
changes with every committed write of listens or of the catalogue, from any worker or process. So an answer
kept under the version it was computed at is exact as long as the version read now is the same: a write is
visible to the next read. The version is read before the answer is computed, so a write that commits during
the computation leaves the answer under the older version (recomputed at the next read), never the newer.

Threads of a worker that miss the same (key, version) while it is being computed wait for that one computation
instead of each running it (single flight): a year's statistics cost ~100-180 ms of CPU, and four threads computing
it at once under the GIL each took ~4x as long, which held every connection of the worker for ~0.6 s.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import current_app

from ..extensions import db
from . import data_version
from .single_flight import SingleFlight

MAX_ENTRIES = 256  # answers are small dicts (a statistics answer is ~5 kB), so this bounds a worker at ~1-2 MB


class BoundedLru:
    """A thread-safe mapping of at most `max_entries` keys that drops the least recently used (per worker)."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: Hashable) -> object | None:
        """The value of `key` (now the most recently used), or None."""
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value: object) -> None:
        """Keep `value` for `key`, dropping the least recently used keys beyond the bound."""
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class AnswerMemo:
    """The newest answer per key with the data version it was computed at; bounded LRU, thread-safe."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lru = BoundedLru(max_entries)
        self._flights = SingleFlight()  # (key, version) being computed
        self.hits = self.misses = 0

    @property
    def waits(self) -> int:
        """How many threads waited for another thread's computation of the same answer."""
        return self._flights.waits

    def answer(self, key: Hashable, version: str, compute: Callable[[], object]) -> object:
        """The answer kept for `key` at `version`, else compute() once: threads asking meanwhile wait for it."""
        found, answer = self.get(key, version)
        if found:
            return answer
        with self._flights.leading((key, version)) as first:
            if not first:
                found, answer = self.get(key, version)
                if found:
                    return answer
            # The first thread; or the first one's computation failed (its caller got the error) or was evicted.
            return self._computed(key, version, compute)

    def _computed(self, key: Hashable, version: str, compute: Callable[[], object]) -> object:
        answer = compute()
        self.put(key, version, answer)
        return answer

    def get(self, key: Hashable, version: str) -> tuple[bool, object]:
        """(True, answer) when `key` was computed at `version`, else (False, None)."""
        entry = self._lru.get(key)
        if entry is None or entry[0] != version:
            self.misses += 1
            return False, None
        self.hits += 1
        return True, entry[1]

    def put(self, key: Hashable, version: str, answer: object) -> None:
        """Keep `answer` for `key` at `version`, evicting the least recently used beyond the bound."""
        self._lru.put(key, (version, answer))


def memo_of_app() -> AnswerMemo:
    """This app's (this worker's) memo."""
    memo = current_app.extensions.get("aime.answer_memo")
    if memo is None:
        memo = current_app.extensions.setdefault("aime.answer_memo", AnswerMemo())
    return memo


def remembered(key: Hashable, compute: Callable[[], object]):
    """compute() or its answer kept for `key` at the current data version (a copy: callers may change it); one
    computation per worker for threads asking the same question at once."""
    version = _version()
    if version is None:
        return compute()
    return _copied(memo_of_app().answer(key, version, compute))


def _copied(value):
    """A copy of a JSON-like answer: new dicts and lists, the same immutable leaves (copy.deepcopy took 4x as
    long on a timeline's ~200 plays)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def _version() -> str | None:
    """The committed data version, or None when the answer must be computed: the session holds changes not yet
    committed (this request would not see them in the version), or the database has no counter."""
    session = db.session
    if session.new or session.dirty or session.deleted:
        return None
    return data_version.of_request()
