"""PostgreSQL: the request's statement_timeout is a setting of the connection's session, set only when it no longer
fits the time left; it never lets a statement run past the deadline, and a transaction without a deadline (a
background job) gets the server's default back."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from aime import deadlines
from aime.database import _timeout_holds
from aime.extensions import db

pytestmark = pytest.mark.usefixtures("app")


def test_timeout_holds_only_below_the_deadline_and_near_it():
    assert _timeout_holds(None, None)
    assert not _timeout_holds(None, 75_000) and not _timeout_holds(75_000, None)
    assert _timeout_holds(75_000, 75_000) and _timeout_holds(74_000, 75_000)
    assert not _timeout_holds(73_999, 75_000)  # more than a second early
    assert not _timeout_holds(75_001, 75_000)  # past the deadline: never
    assert _timeout_holds(900, 990) and not _timeout_holds(890, 990)  # a tenth of a short time left
    assert not _timeout_holds(5, 990)  # a late transaction's timeout is not kept for a fresh request


def _one_read(app, seconds: float | None) -> int:
    """statement_timeout in ms, shown in a fresh session on the pooled connection, under a deadline of `seconds`."""
    with app.app_context():
        if seconds is not None:
            deadlines.start(seconds)
        try:
            shown = db.session.execute(sa.text("SHOW statement_timeout")).scalar()
            db.session.rollback()
        finally:
            deadlines.clear()
            db.session.remove()
    if shown.endswith("ms"):
        return int(shown[:-2])
    return int(shown[:-1]) * 1000 if shown.endswith("s") else int(shown)


@pytest.fixture
def engine(app, backend):
    """The app's PostgreSQL engine with an empty pool (its first checkout is a new connection)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    with app.app_context():
        found = db.engine
    found.dispose()
    return found


def test_the_deadline_is_set_once_per_connection_and_the_default_comes_back(app, engine):
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        sent.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        first = _one_read(app, 30.0)
        assert 29_000 <= first <= 30_000 and sent == ["SET", "SHOW"], (first, sent)
        sent.clear()
        # A later request with a little more time left (so the milliseconds it spends before its first statement
        # cannot leave it less time than the session's timeout: 30.0 s failed once under load, 29992 < 29995 ms):
        # the timeout still fits, no SET at all.
        assert _one_read(app, 30.5) == first and sent == ["SHOW"]
        sent.clear()
        short = _one_read(app, 2.0)  # less time left than the session's timeout: set lower, never above it
        assert 1_800 <= short <= 2_000 and sent == ["SET", "SHOW"], (short, sent)
        sent.clear()
        assert _one_read(app, 30.0) >= 29_000 and sent == ["SET", "SHOW"]  # a tenth below: set again
        sent.clear()
        assert _one_read(app, None) == 0 and sent == ["SET", "SHOW"]  # no deadline: the server's default back
        sent.clear()
        assert _one_read(app, None) == 0 and sent == ["SHOW"]
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_an_autocommit_connection_stays_in_autocommit_after_the_timeout_is_put_back(app, engine):
    """refresh_statistics runs VACUUM on an AUTOCOMMIT connection, after requests set the pooled one's timeout."""
    assert 29_000 <= _one_read(app, 30.0) <= 30_000  # the one pooled connection now holds a request's timeout
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        assert connection.execute(sa.text("SHOW statement_timeout")).scalar() == "0"  # no deadline: put back
        connection.execute(sa.text("VACUUM (ANALYZE) listens"))  # refused inside a transaction block
