"""The registry: concurrent checks, per-check deadlines without SIGALRM, TTL caching, single flight, statuses."""
from __future__ import annotations

import threading
from concurrent.futures import Future, TimeoutError as FutureTimeout

import pytest

from aime.health.checkers import Checker, CheckResult, failed, passed, warned
from aime.health.readiness import VALIDATED_ENV
from aime.health.registry import KEY, HealthRegistry, overall_status


class Probe(Checker):
    """A checker whose behaviour the test scripts."""

    def __init__(self, name, behaviour, critical=False):
        self.name, self.behaviour, self.critical = name, behaviour, critical
        self.calls = 0
        self._lock = threading.Lock()

    def check(self):
        with self._lock:
            self.calls += 1
        return self.behaviour()


def registry_with(app, *checkers):
    registry = HealthRegistry(app, discover=False)
    for checker in checkers:
        registry.add(checker)
    return registry


def test_checks_run_concurrently(make_app):
    # Each check can only finish if all five are running at the same time: proof without a stopwatch.
    app = make_app(migrate=False, health_check_timeout=10.0)
    barrier = threading.Barrier(5, timeout=8)

    def meet():
        barrier.wait()
        return passed("met")

    registry = registry_with(app, *(Probe(f"c{i}", meet) for i in range(5)))
    results = registry.results()
    assert {name: e.result.status for name, e in results.items()} == {f"c{i}": "pass" for i in range(5)}


@pytest.mark.parametrize("caller", ["main-thread", "other-thread"])
def test_a_hung_check_fails_at_its_deadline_in_any_thread(make_app, caller):
    app = make_app(migrate=False, health_check_timeout=0.2)
    release = threading.Event()
    hung = Probe("hung", lambda: release.wait(30) and passed(), critical=True)
    fine = Probe("fine", lambda: passed("ok"))
    registry = registry_with(app, hung, fine)
    out = {}
    try:
        if caller == "main-thread":
            out.update(registry.results())
        else:  # a gthread/gevent-style request thread: no signals there
            thread = threading.Thread(target=lambda: out.update(registry.results()))
            thread.start()
            thread.join(20)
        assert not release.is_set()  # we got the answer while the check was still blocked
        assert out["hung"].result.status == "fail"
        assert out["hung"].result.output == "timed out after 0.2s"
        assert out["fine"].result.status == "pass"
        assert overall_status(out.values()) == "unhealthy"
    finally:
        release.set()


def test_a_hung_check_is_not_started_again_while_it_hangs(make_app):
    app = make_app(migrate=False, health_check_timeout=0.1, health_failure_ttl=0.0)
    release = threading.Event()
    hung = Probe("hung", lambda: release.wait(30) and passed())
    registry = registry_with(app, hung)
    try:
        for _ in range(3):
            assert registry.results()["hung"].result.output == "timed out after 0.1s"
        assert hung.calls == 1
    finally:
        release.set()


def test_fifty_cold_requests_run_each_check_once(make_app):
    app = make_app(migrate=False, health_check_timeout=10.0)
    gate = threading.Event()
    slow = Probe("slow", lambda: gate.wait(10) and passed("done"))
    registry = registry_with(app, slow)
    start = threading.Barrier(51)
    seen = []

    def caller():
        start.wait()
        seen.append(registry.results()["slow"].result.output)

    threads = [threading.Thread(target=caller) for _ in range(50)]
    for thread in threads:
        thread.start()
    start.wait()
    gate.set()
    for thread in threads:
        thread.join(20)
    assert seen == ["done"] * 50
    assert slow.calls == 1


def test_success_and_failure_have_their_own_ttl(make_app):
    app = make_app(migrate=False, health_success_ttl=300.0, health_failure_ttl=0.0)
    good = Probe("good", lambda: passed())
    bad = Probe("bad", lambda: failed("down"))
    registry = registry_with(app, good, bad)
    for _ in range(3):
        registry.results()
    assert (good.calls, bad.calls) == (1, 3)
    registry.results(force=True)  # the monitor refreshes regardless of the TTL
    assert good.calls == 2


def test_statuses_critical_fail_is_unhealthy_anything_else_degraded(make_app):
    app = make_app(migrate=False)
    cases = [
        ([passed(), passed()], "healthy"),
        ([passed(), warned("meh")], "degraded"),
        ([passed(), failed("optional down")], "degraded"),  # second checker is not critical
        ([failed("core down"), passed()], "unhealthy"),
    ]
    for (first, second), expected in cases:
        registry = registry_with(app, Probe("core", lambda r=first: r, critical=True),
                                 Probe("optional", lambda r=second: r))
        status, _ = registry.evaluate()
        assert status == expected


def test_a_crashing_or_misbehaving_check_is_a_failure_not_a_crash(make_app):
    app = make_app(migrate=False)

    def boom():
        raise RuntimeError("secret-ish detail")

    registry = registry_with(app, Probe("boom", boom), Probe("wrong", lambda: (True, "tuple")))
    results = registry.results()
    assert results["boom"].result.status == "fail"
    assert results["boom"].result.output == "check raised RuntimeError"
    assert results["wrong"].result.output == "checker returned tuple, not a CheckResult"


def test_duplicate_and_disabled_checkers_are_not_registered(make_app):
    app = make_app(migrate=False)

    class Disabled(Probe):
        def enabled(self, app):
            return False

    registry = registry_with(app, Probe("a", passed), Probe("a", passed), Disabled("off", passed))
    assert registry.names() == ["a"]


def test_every_status_change_is_logged_and_unhealthy_reported(make_app, aime_logs):
    app = make_app(migrate=False, health_success_ttl=0.0, health_failure_ttl=0.0, log_level="DEBUG")
    state = {"result": passed()}
    registry = registry_with(app, Probe("core", lambda: state["result"], critical=True))
    for result in (passed(), passed(), warned("slow"), failed("down"), failed("down"), passed()):
        state["result"] = result
        registry.evaluate()
    changes = [m for m in aime_logs.messages("aime.health.registry") if m.startswith("health status changed")]
    assert changes == [
        "health status changed: unknown -> healthy",
        "health status changed: healthy -> degraded",
        "health status changed: degraded -> unhealthy",
        "health status changed: unhealthy -> healthy",
    ]


def test_the_monitor_refreshes_every_interval_and_stops(make_app):
    from aime import background
    from aime.health.monitor import start_monitor, stop_monitor
    from aime.health.registry import KEY

    app = make_app(migrate=False, health_interval=0.05, health_success_ttl=300.0)
    assert "health-monitor" in app.extensions[background.KEY]  # started by gunicorn's post_worker_init
    counting = Probe("counting", lambda: passed())
    app.extensions[KEY] = registry_with(app, counting)
    start_monitor(app)
    try:
        deadline = threading.Event()
        for _ in range(400):  # polled, not slept: ends as soon as three rounds ran
            if counting.calls >= 3:
                break
            deadline.wait(0.01)
        assert counting.calls >= 3  # refreshed despite the long success TTL
    finally:
        stop_monitor(app)
    thread_names = [t.name for t in threading.enumerate()]
    assert "aime-health-monitor" not in thread_names


class FakeClock:
    """time.time and time.monotonic of the registry and of py-healthcheck, moved only by the test and by waits."""

    def __init__(self):
        self.now = 1_000_000.0
        self.waits: list[float] = []

    def time(self):
        return self.now

    def monotonic(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    import healthcheck.healthcheck

    from aime.health import registry as registry_module

    fake = FakeClock()
    monkeypatch.setattr(registry_module, "time", fake)
    monkeypatch.setattr(healthcheck.healthcheck, "time", fake)

    def waiting_futures():
        """From now on a wait for an unfinished check takes no real time: the clock moves by the wait instead."""

        class ClockedFuture(Future):
            def result(self, timeout=None):
                if not self.done():
                    fake.waits.append(round(timeout, 6))
                    fake.now += timeout
                    raise FutureTimeout
                return super().result(0)

        monkeypatch.setattr(registry_module, "Future", ClockedFuture)

    fake.waiting_futures = waiting_futures
    return fake


def hang_after_first(name, output, release, critical=False):
    """A checker that passes once (the previous result), then hangs until `release` is set."""
    probe = Probe(name, lambda: passed(output) if probe.calls == 1 else (release.wait(30), passed("late"))[1],
                  critical=critical)
    return probe


def test_a_request_waits_one_budget_for_all_running_checks_and_only_while_they_are_new(make_app, clock):
    # Three checks hang on one database: the request waits 0.2 s in all (not 0.2 s per check), and a request
    # arriving later, when the checks have run for 0.2 s already, does not wait at all: both answer the previous
    # results (younger than TTL + deadline) until the deadline, then "timed out".
    app = make_app(migrate=False, health_check_timeout=10.0, health_success_ttl=1.0, health_failure_ttl=1.0)
    release = threading.Event()
    names = ("database", "migrations", "queue")
    probes = [hang_after_first(name, f"{name} ok", release, critical=True) for name in names]
    registry = registry_with(app, *probes)
    try:
        before = registry.results()
        assert {n: e.result.output for n, e in before.items()} == {
            "database": "database ok", "migrations": "migrations ok", "queue": "queue ok"}
        clock.waiting_futures()
        clock.now += 1.5  # the results expired 0.5 s ago: the next request starts a refresh, which hangs
        first = registry.results()
        assert clock.waits == [0.2, 0.0, 0.0]
        assert all(first[n] is before[n] for n in before)  # the previous results themselves
        assert [p.calls for p in probes] == [2, 2, 2]  # each refresh is running (hung), started once

        clock.waits.clear()
        second = registry.evaluate()
        assert clock.waits == [0.0, 0.0, 0.0]
        assert second == ("healthy", before)

        clock.now += 9.8  # 10 s after the refresh started: its deadline
        status, third = registry.evaluate()
        assert status == "unhealthy"
        assert {n: (e.result.status, e.result.output) for n, e in third.items()} == {
            n: ("fail", "timed out after 10s") for n in before}
        assert [p.calls for p in probes] == [2, 2, 2]  # not started again while they hang
    finally:
        release.set()


@pytest.mark.parametrize("last, answered", [
    (passed("database answers"), ("warn", "degraded")),
    (failed("database unreachable (OperationalError)"), ("fail", "unhealthy")),
])
def test_an_old_result_answers_as_stale_while_its_refresh_runs_never_as_current(make_app, clock, last, answered):
    # An idle worker (the monitor runs every AIME_HEALTH_INTERVAL) last checked 25 s ago, longer ago than
    # TTL + deadline (10 + 2 s): it no longer vouches for a pass. While the refresh hangs, the request answers after
    # 0.2 s with the old result marked stale (a pass only as a warning: degraded, 200), not after the deadline.
    app = make_app(migrate=False, health_check_timeout=2.0, health_success_ttl=10.0, health_failure_ttl=10.0)
    release = threading.Event()
    state = {"calls": 0}

    def check():
        state["calls"] += 1
        return last if state["calls"] == 1 else (release.wait(30), passed("late"))[1]

    registry = registry_with(app, Probe("database", check, critical=True))
    try:
        observed = registry.results()["database"]
        clock.waiting_futures()
        clock.now += 25.0
        status, entries = registry.evaluate()
        assert clock.waits == [0.2]
        entry = entries["database"]
        assert status == answered[1]
        assert entry.result == CheckResult(
            answered[0], f"no result for 25s: a check running for 0.2s has not answered yet (last: {last.status}, "
            f"{last.output})", None, None, {"stale": True})
        assert (entry.observed_at, entry.critical) == (observed.observed_at, True)  # when it was last known

        clock.waits.clear()
        clock.now += 1.8  # the deadline of the refresh: now it is known to hang
        status, entries = registry.evaluate()
        assert clock.waits == [0.0]
        assert (status, entries["database"].result.output) == ("unhealthy", "timed out after 2s")
    finally:
        release.set()


class CountingLock:
    """The registry's lock, counting how often it is taken."""

    def __init__(self):
        self.lock, self.taken = threading.Lock(), 0

    def __enter__(self):
        self.taken += 1
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


def test_ready_reads_its_two_fresh_results_without_the_lock_after_another_check_expired(make_app, clock,
                                                                                       monkeypatch):
    # Under /ready-only load only `database` and `migrations` are refreshed (by /ready itself), so once another
    # check's result expires the set of all fresh results is gone for good: /ready must still answer from its two
    # results while they are within their TTL, taking no lock and starting nothing, and refresh them (showing a
    # changed result in the very next answer) once they expire.
    monkeypatch.setenv(VALIDATED_ENV, "1")  # validated by the gunicorn master
    app = make_app(migrate=False, health_success_ttl=10.0, health_failure_ttl=3.0)
    outcome = {"database": passed("database answers")}
    probes = [Probe("database", lambda: outcome["database"], critical=True),
              Probe("migrations", lambda: passed("schema at head"), critical=True),
              Probe("disk_space", lambda: passed("plenty"))]
    registry = registry_with(app, *probes)
    app.extensions[KEY] = registry
    client = app.test_client()
    registry.results()  # every result observed at t, valid until t + 10
    clock.now += 5.0
    registry.results(force=True, names=["database", "migrations"])  # these two now valid until t + 15
    clock.now += 6.0  # t + 11: disk_space's result expired
    registry._lock = counting = CountingLock()
    for _ in range(3):
        response = client.get("/ready")
        assert (response.status_code, response.json) == (200, {"ready": True})
    assert counting.taken == 0
    assert [p.calls for p in probes] == [2, 2, 1]

    outcome["database"] = failed("database unreachable (OperationalError)")
    clock.now += 4.5  # t + 15.5: both expired, refreshed by this request
    response = client.get("/ready")
    assert (response.status_code, response.json) == (
        503, {"ready": False, "reasons": ["database: database unreachable (OperationalError)"]})
    assert [p.calls for p in probes] == [3, 3, 1]
