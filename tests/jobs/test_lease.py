"""The one lease helper (aime.jobs.lease), on SQLite and PostgreSQL: take, refuse, take over, renew, release, who."""
import threading

import pytest
import time_machine

from aime import create_app
from aime.database import run_write
from aime.jobs import lease
from aime.models import ServiceState

T0 = 1_700_000_000  # a frozen clock: every expiry below is worked out from it


def _row(db, name="job"):
    db.session.expire_all()
    row = db.session.get(ServiceState, name)
    return (row.lease_owner, row.lease_expires_at)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_a_free_lease_is_taken_and_a_fresh_one_is_refused_to_others(db, clock):
    run_write(lease.ensure, "job")
    assert run_write(lease.acquire, "job", "A", 60) is True
    assert _row(db) == ("A", T0 + 60) and lease.holder("job") == "A"
    assert run_write(lease.acquire, "job", "B", 60) is False
    assert _row(db) == ("A", T0 + 60)
    clock.shift(59)  # one second before expiry: still A's
    assert run_write(lease.acquire, "job", "B", 60) is False and lease.holder("job") == "A"


def test_the_holder_may_take_it_again_unless_not_reentrant(db, clock):
    run_write(lease.ensure, "job")
    run_write(lease.acquire, "job", "A", 60)
    clock.shift(10)
    assert run_write(lease.acquire, "job", "A", 60) is True and _row(db) == ("A", T0 + 70)
    assert run_write(lease.acquire, "job", "A", 60, reentrant=False) is False and _row(db) == ("A", T0 + 70)


def test_a_stale_lease_is_taken_over_from_its_expiry_on(db, clock):
    run_write(lease.ensure, "job")
    run_write(lease.acquire, "job", "A", 60)
    clock.shift(60)  # expired at this very second
    assert lease.holder("job") is None
    assert run_write(lease.acquire, "job", "B", 30, reentrant=False) is True
    assert _row(db) == ("B", T0 + 90) and lease.holder("job") == "B"


def test_only_the_holder_renews(db, clock):
    run_write(lease.ensure, "job")
    run_write(lease.acquire, "job", "A", 60)
    clock.shift(60)
    run_write(lease.acquire, "job", "B", 60)  # A's lease went stale and B took it
    assert run_write(lease.renew, "job", "A", 60) is False and _row(db) == ("B", T0 + 120)
    clock.shift(5)
    assert run_write(lease.renew, "job", "B", 30) is True and _row(db) == ("B", T0 + 95)
    assert run_write(lease.renew, "nothing-here", "B", 30) is False


def test_only_the_holder_releases_and_then_anyone_takes_it_at_once(db, clock):
    run_write(lease.ensure, "job")
    run_write(lease.acquire, "job", "A", 60)
    assert run_write(lease.release, "job", "B") is False and _row(db) == ("A", T0 + 60)
    assert run_write(lease.release, "job", "A") is True and _row(db) == (None, None)
    assert lease.holder("job") is None
    assert run_write(lease.acquire, "job", "B", 60, reentrant=False) is True and lease.holder("job") == "B"


def test_conditions_on_the_row_and_a_missing_row(db, clock):
    run_write(lease.ensure, "svc")  # a service's row: inactive until started
    active = (ServiceState.active.is_(True),)
    assert run_write(lease.acquire, "svc", "A", 60, where=active) is False and _row(db, "svc") == (None, None)
    run_write(lambda: setattr(db.session.get(ServiceState, "svc"), "active", True))
    assert run_write(lease.acquire, "svc", "A", 60, where=active) is True and _row(db, "svc") == ("A", T0 + 60)
    assert run_write(lease.acquire, "absent", "A", 60) is False and lease.holder("absent") is None


def test_ensure_creates_the_row_once_with_its_defaults(db):
    run_write(lease.ensure, "import:7", active=True, state={"job": 7})
    run_write(lease.ensure, "import:7", active=False, state={})  # exists: left alone
    db.session.expire_all()
    row = db.session.get(ServiceState, "import:7")
    assert (row.active, row.state, row.lease_owner) == (True, {"job": 7}, None)
    assert db.session.query(ServiceState).count() == 1


def test_freshness_rule():
    assert lease.fresh(None, 5) is False
    assert lease.fresh(100, 99.5) is True
    assert lease.fresh(100, 100) is False


def test_of_processes_racing_for_a_free_lease_exactly_one_wins(app):
    apps = [create_app(app.extensions["aime.config"]) for _ in range(4)]
    with app.app_context():
        run_write(lease.ensure, "job")
    barrier, winners = threading.Barrier(len(apps)), []

    def race(other, owner):
        with other.app_context():
            barrier.wait()
            if run_write(lease.acquire, "job", owner, 60, reentrant=False):
                winners.append(owner)
            lease.holder("job")

    threads = [threading.Thread(target=race, args=(other, f"p{i}")) for i, other in enumerate(apps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        assert len(winners) == 1 and lease.holder("job") == winners[0]
    from aime.extensions import db

    for other in apps:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
