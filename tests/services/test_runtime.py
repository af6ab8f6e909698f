"""Background services run exactly once across processes sharing the database, and follow the active flag."""
import time

import pytest

from aime.jobs import runtime
from tests.support.polling import poll


class Counter(runtime.BackgroundService):
    """Counts its ticks and which owner ran them."""

    interval = 0.05

    def __init__(self, name, log):
        self.name = name
        self.log = log

    def tick(self, app):
        self.log.append(app.extensions[runtime.KEY].owner)


def test_only_one_process_runs_an_active_service(two_processes):
    log = []
    for other in two_processes:
        runtime.register_service(other, Counter("counter", log))
    with two_processes[0].app_context():
        assert runtime.status(two_processes[0], "counter")["running"] is False
        runtime.set_active(two_processes[0], "counter", True)
    for other in two_processes:
        runtime.start_runtime(other)
    assert poll(lambda: len(log) >= 5)
    assert len(set(log)) == 1, "two processes ran the same service"
    holder = log[0]
    with two_processes[0].app_context():
        assert runtime.status(two_processes[0], "counter")["holder"] == holder

    # The holder goes away: the other one takes over once the lease is handed back.
    leaving = next(a for a in two_processes if a.extensions[runtime.KEY].owner == holder)
    runtime.stop_runtime(leaving)
    count = len(log)
    assert poll(lambda: len(log) > count + 3)
    assert log[-1] != holder


def test_stopping_a_service_stops_its_ticks_and_persists(two_processes):
    log = []
    first = two_processes[0]
    runtime.register_service(first, Counter("counter", log))
    with first.app_context():
        runtime.set_active(first, "counter", True)
    runtime.start_runtime(first)
    assert poll(lambda: len(log) >= 2)
    with first.app_context():
        runtime.set_active(first, "counter", False)
    assert poll(lambda: not first.extensions[runtime.KEY].slots["counter"].held.is_set())
    settled = len(log)
    time.sleep(0.3)  # no poll possible for "nothing happens"; short and bounded
    assert len(log) == settled
    with first.app_context():
        state = runtime.status(first, "counter")
    assert state["active"] is False and state["running"] is False


def test_unknown_service_is_404(app):
    from aime.errors import NotFound

    with app.app_context(), pytest.raises(NotFound):
        runtime.status(app, "nope")
