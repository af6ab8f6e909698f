"""The per-app registry of health checkers: concurrent, deadlined, cached, single-flight.

py-healthcheck's HealthCheck is the core that runs one check (timing, TTL by outcome, exception
handling); it is used with error_timeout=0 because its timeout relies on SIGALRM, which only works
in a main thread. Deadlines come from here instead: each check runs in its own daemon thread and
callers stop waiting at the deadline, so this works in any worker model and any thread.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import Any

import sentry_sdk
from flask import Flask
from healthcheck import HealthCheck

from ..config import config_of
from ..observability.metrics import get_metrics
from .checkers import CheckResult, builtin_checkers, failed, warned

log = logging.getLogger(__name__)
KEY = "aime.health"
ENTRY_POINT_GROUP = "aime.health_checks"
STATUS_VALUE = {"pass": 1.0, "warn": 0.5, "fail": 0.0}
# A refresh has this long to answer the requests that wait for it: a request waits for a running check at most
# until this long after the check started (and this long in all, for every check of the request together), then
# answers from the previous results: /health stays fast while a dependency hangs, every request, however many.
STALE_WAIT_SECONDS = 0.2


@dataclass(frozen=True)
class Entry:
    """One checker's latest result and when it was observed."""

    name: str
    critical: bool
    component_type: str
    measurement: str
    result: CheckResult
    response_time_ms: float
    observed_at: float
    expires: float


@dataclass(frozen=True)
class _Fresh:
    """Every checker's result at once, all of them fresh until `until`: what results() and evaluate() return
    while nothing changes, without taking a lock or looking at each slot (most of /health's own cost)."""

    generation: int
    until: float
    entries: dict[str, Entry]
    status: str


class _Slot:
    def __init__(self, checker: Any):
        self.checker = checker
        self.entry: Entry | None = None
        self.inflight: tuple[Future, float] | None = None


class HealthRegistry:
    """Aggregates checkers for one app; results shared by /health, /ready, /metrics and the monitor."""

    def __init__(self, app: Flask, discover: bool = True):
        config = config_of(app)
        self.app = app
        self.timeout = config.health_check_timeout
        self.success_ttl = config.health_success_ttl
        self.failure_ttl = config.health_failure_ttl
        self.core = HealthCheck(success_ttl=self.success_ttl, failed_ttl=self.failure_ttl, error_timeout=0)
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._loaded = not discover  # discover=False: only the checkers add()ed explicitly
        self.last_status: str | None = None
        self._generation = 0  # bumped (under _lock) whenever a slot's entry or the set of slots changes
        self._fresh: _Fresh | None = None

    def _ensure_loaded(self) -> None:
        # Plugins are discovered on first use, not in create_app: reading package metadata is I/O.
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                for checker in builtin_checkers() + _plugin_checkers(self.app):
                    self.add(checker)
                self._loaded = True

    # -- registration -------------------------------------------------------------------------
    def add(self, checker: Any) -> None:
        """Register a checker; a duplicate name is refused with a log line, not an exception."""
        name = str(getattr(checker, "name", ""))
        if not name or not callable(getattr(checker, "check", None)):
            log.error("ignoring health checker %r: it needs a name and a check() method", checker)
            return
        if name in self._slots:
            log.error("ignoring health checker %r: the name is already taken", name)
            return
        enabled = getattr(checker, "enabled", None)
        try:
            if enabled is not None and not enabled(self.app):
                return
        except Exception:  # noqa: BLE001 - a broken plugin must not stop the app
            log.exception("health checker %s: enabled() failed; not registered", name)
            return
        with self._lock:
            self._slots[name] = _Slot(checker)
            self._changed()

    def names(self) -> list[str]:
        """Registered checker names, in order."""
        self._ensure_loaded()
        return list(self._slots)

    def checker(self, name: str) -> Any:
        """The checker registered under name."""
        self._ensure_loaded()
        return self._slots[name].checker

    # -- running --------------------------------------------------------------------------------
    def results(self, force: bool = False, names: list[str] | None = None) -> dict[str, Entry]:
        """Current results: cached when fresh, else refreshed concurrently under the deadline."""
        fresh = self._fresh
        if not force and fresh is not None and time.time() < fresh.until:
            return fresh.entries if not names else {n: fresh.entries[n] for n in names if n in fresh.entries}
        if not force and names and self._loaded:
            kept = self._unexpired(names)
            if kept is not None:
                return kept
        known = self.names()
        chosen = [n for n in (names or known) if n in self._slots]
        now = time.time()
        with self._lock:
            generation = self._generation
            for name in chosen:
                slot = self._slots[name]
                if not force and slot.entry is not None and slot.entry.expires > now:
                    continue
                self._start(slot)
        # Every check is waited for until one moment: the checks run concurrently, so the request's wait is the
        # longest of them, not their sum (three checks hung on one database used to cost three budgets).
        give_up = None if force else time.monotonic() + STALE_WAIT_SECONDS
        found = {name: self._wait(self._slots[name], give_up) for name in chosen}
        if len(chosen) == len(known):
            self._remember(generation, found)
        return found

    def _unexpired(self, names: list[str]) -> dict[str, Entry] | None:
        """The named checks' entries when every one is within its TTL (what the locked path would answer: nothing
        to start, nothing to wait for), else None. /ready asks for two checks only, so it never brings the fresh
        set of all checks back once one of the others expired; this keeps its answer lock-free meanwhile."""
        now = time.time()
        found = {}
        for name in names:
            slot = self._slots.get(name)
            if slot is None:
                continue
            entry = slot.entry  # one read: the slot's entry is replaced whole, never changed in place
            if entry is None or entry.expires <= now:
                return None
            found[name] = entry
        return found

    def _remember(self, generation: int, found: dict[str, Entry]) -> None:
        """Keep `found` as the fresh set when it is every slot's current entry and nothing changed meanwhile."""
        with self._lock:
            if generation != self._generation or len(found) != len(self._slots) or any(
                    slot.entry is not found.get(name) for name, slot in self._slots.items()):
                return
            until = min((entry.expires for entry in found.values()), default=0.0)
            self._fresh = _Fresh(generation, until, found, overall_status(found.values()))

    def _changed(self) -> None:
        """Called under _lock whenever an entry or the set of slots changes: the fresh set is void."""
        self._generation += 1
        self._fresh = None

    def _start(self, slot: _Slot) -> None:
        if slot.inflight is not None:
            _future, started = slot.inflight
            # A check hung far past its deadline is abandoned so that a recovered dependency is seen again.
            if time.monotonic() - started < max(10 * self.timeout, 30.0):
                return
            log.error("health check %s still hung after %.0fs; starting a new one", slot.checker.name,
                      time.monotonic() - started)
        future: Future = Future()
        slot.inflight = (future, time.monotonic())
        threading.Thread(target=self._execute, args=(slot, future), daemon=True,
                         name=f"health-{slot.checker.name}").start()

    def _wait(self, slot: _Slot, give_up: float | None) -> Entry:
        """The slot's result for a caller that waits for a running refresh until `give_up` (monotonic; None: the
        monitor, which waits for the refresh itself, at most its deadline)."""
        force = give_up is None
        with self._lock:
            entry, inflight = slot.entry, slot.inflight
        if inflight is None or (not force and entry is not None and entry.expires > time.time()):
            return entry if entry is not None else self._timed_out(slot, None)
        future, started = inflight
        deadline = started + self.timeout
        # With no result at all (a process's first check) there is nothing to answer from: wait for the check, at
        # most its deadline. Under gunicorn a worker knows its first results before it takes requests.
        until = deadline if force or entry is None else min(deadline, give_up, started + STALE_WAIT_SECONDS)
        try:
            return future.result(timeout=max(0.0, until - time.monotonic()))
        except FutureTimeout:
            if time.monotonic() >= deadline:
                return self._timed_out(slot, future)
            return self._previous(entry, started)

    def _previous(self, entry: Entry, started: float) -> Entry:
        """What to answer from while a refresh started at `started` (monotonic) is still running.

        A result younger than its TTL plus one deadline stands as it is. An older one (an idle worker: the monitor
        runs every AIME_HEALTH_INTERVAL) cannot vouch for now: a pass becomes a warning that says how old it is and
        how long the check has been running (degraded, 200); a warning or failure keeps its status and says so.
        Either way the running check decides at its deadline at the latest: its result, or "timed out" (fail).
        """
        now = time.time()
        if now < entry.expires + self.timeout:
            return entry
        previous = entry.result
        stale = CheckResult(
            "fail" if previous.status == "fail" else "warn",
            f"no result for {now - entry.observed_at:.0f}s: a check running for "
            f"{time.monotonic() - started:.1f}s has not answered yet (last: {previous.status}, {previous.output})",
            previous.observed_value, previous.observed_unit, {**previous.details, "stale": True})
        return replace(entry, result=stale)

    def _timed_out(self, slot: _Slot, future: Future | None) -> Entry:
        checker = slot.checker
        entry = self._entry(checker, failed(f"timed out after {self.timeout:g}s"), self.timeout * 1000,
                            time.time(), time.time() + self.failure_ttl)
        with self._lock:
            if future is None or (slot.inflight is not None and slot.inflight[0] is future):
                slot.entry = entry
                self._changed()
        self._export(entry)
        return entry

    def _execute(self, slot: _Slot, future: Future) -> None:
        checker = slot.checker

        def probe():
            try:
                with self.app.app_context():
                    result = checker.check()
                if not isinstance(result, CheckResult):
                    result = failed(f"checker returned {type(result).__name__}, not a CheckResult")
            except Exception as error:  # noqa: BLE001 - a failing check is a result, not a crash
                log.warning("health check %s raised %s", checker.name, type(error).__name__, exc_info=True)
                result = failed(f"check raised {type(error).__name__}")
            return result.status != "fail", result

        probe.__name__ = checker.name
        raw = self.core.run_check(probe)
        entry = self._entry(checker, raw["output"], raw["response_time"] * 1000, raw["timestamp"], raw["expires"])
        with self._lock:
            slot.entry = entry
            self._changed()
            if slot.inflight is not None and slot.inflight[0] is future:
                slot.inflight = None
        self._export(entry)
        future.set_result(entry)

    def _entry(self, checker: Any, result: CheckResult, ms: float, observed: float, expires: float) -> Entry:
        return Entry(name=checker.name, critical=bool(getattr(checker, "critical", False)),
                     component_type=getattr(checker, "component_type", "component"),
                     measurement=getattr(checker, "measurement", "status"), result=result,
                     response_time_ms=round(ms, 2), observed_at=observed, expires=expires)

    def _export(self, entry: Entry) -> None:
        gauge = get_metrics(self.app).check_status
        gauge.labels(entry.name, str(entry.critical).lower()).set(STATUS_VALUE[entry.result.status])

    # -- aggregation ----------------------------------------------------------------------------
    def evaluate(self, force: bool = False) -> tuple[str, dict[str, Entry]]:
        """(healthy|degraded|unhealthy, results); logs every change of overall status."""
        fresh = self._fresh
        if not force and fresh is not None and time.time() < fresh.until and fresh.status == self.last_status:
            return fresh.status, fresh.entries  # nothing changed since the status was last noted
        entries = self.results(force=force)
        status = overall_status(entries.values())
        self._note_transition(status, entries)
        return status, entries

    def _note_transition(self, status: str, entries: dict[str, Entry]) -> None:
        with self._lock:
            previous, self.last_status = self.last_status, status
        if previous == status:
            return
        failing = sorted(n for n, e in entries.items() if e.result.status != "pass")
        # Recoveries are news too (WARNING); only the very first observation of a healthy service is routine.
        level = logging.ERROR if status == "unhealthy" else logging.WARNING
        if previous is None and status == "healthy":
            level = logging.INFO
        log.log(level, "health status changed: %s -> %s", previous or "unknown", status,
                extra={"health_from": previous, "health_to": status, "failing_checks": failing})
        if status == "unhealthy":
            critical = sorted(n for n, e in entries.items() if e.critical and e.result.status == "fail")
            sentry_sdk.capture_message(f"AIME became unhealthy: {', '.join(critical)} failing", level="error")


def overall_status(entries) -> str:
    """Critical failure: unhealthy; any other warn or fail: degraded; else healthy."""
    entries = list(entries)
    if any(e.critical and e.result.status == "fail" for e in entries):
        return "unhealthy"
    if any(e.result.status != "pass" for e in entries):
        return "degraded"
    return "healthy"


class _BrokenPlugin:
    critical = False
    component_type = "component"
    measurement = "status"

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason

    def check(self) -> CheckResult:
        """Say that the plugin could not be loaded."""
        return warned(f"plugin failed to load ({self.reason})")


def _plugin_checkers(app: Flask) -> list[Any]:
    found = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = point.load()
            checker = target() if isinstance(target, type) else target
            if not callable(getattr(checker, "check", None)) and callable(checker):
                checker = checker(app)  # a factory taking the app
            found.append(checker)
        except Exception as error:  # noqa: BLE001 - one broken plugin must not take the service down
            log.exception("health plugin %s failed to load", point.name)
            found.append(_BrokenPlugin(point.name, type(error).__name__))
    return found


def build_registry(app: Flask) -> HealthRegistry:
    """The app's registry: built-ins first, then every `aime.health_checks` entry point (loaded on first use)."""
    registry = HealthRegistry(app)
    app.extensions[KEY] = registry
    return registry


def get_registry(app: Flask) -> HealthRegistry:
    """The registry of an app."""
    return app.extensions[KEY]
