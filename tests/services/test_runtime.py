"""Background services run exactly once across processes sharing the database, and follow the active flag."""
import time

import pytest

from aime import create_app
from aime.services import runtime


class Counter(runtime.BackgroundService):
    """Counts its ticks and which owner ran them."""

    interval = 0.05

    def __init__(self, name, log):
        self.name = name
        self.log = log

    def tick(self, app):
        self.log.append(app.extensions[runtime.KEY].owner)


def poll(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def two_apps(app, tmp_path):
    """The migrated app plus a second app (another 'process') on the same database."""
    config = app.extensions["aime.config"].replace(service_lease_seconds=0.6)
    apps = [create_app(config), create_app(config)]
    yield apps
    from aime.extensions import db

    for other in apps:
        runtime.stop_runtime(other)
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_only_one_process_runs_an_active_service(two_apps):
    log = []
    for other in two_apps:
        runtime.register_service(other, Counter("counter", log))
    with two_apps[0].app_context():
        assert runtime.status(two_apps[0], "counter")["running"] is False
        runtime.set_active(two_apps[0], "counter", True)
    for other in two_apps:
        runtime.start_runtime(other)
    assert poll(lambda: len(log) >= 5)
    assert len(set(log)) == 1, "two processes ran the same service"
    holder = log[0]
    with two_apps[0].app_context():
        assert runtime.status(two_apps[0], "counter")["holder"] == holder

    # The holder goes away: the other one takes over once the lease is handed back.
    leaving = next(a for a in two_apps if a.extensions[runtime.KEY].owner == holder)
    runtime.stop_runtime(leaving)
    count = len(log)
    assert poll(lambda: len(log) > count + 3)
    assert log[-1] != holder


def test_stopping_a_service_stops_its_ticks_and_persists(two_apps):
    log = []
    first = two_apps[0]
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
