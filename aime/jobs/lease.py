"""The one way to run something once across processes: a lease that only its holder renews or gives back.

A lease is a service_states row's (lease_owner, lease_expires_at). Its owner is aime.identity.owner_id(): unique
per process and per start, so two workers (or a restarted process) never pass for one another. A lease is stale
once its expiry has passed; then anyone may take it over. Every function works inside the caller's transaction
(call it within run_write), so taking a lease commits together with what it guards (a job marked running).

Background services (runtime.py) and import jobs (imports.py) hold such rows. A job's "running" state with its
heartbeat (claims.py) and a TaskRun still "running" (tasks.py) record their holder elsewhere, visible to clients;
they expire by the same rule: `fresh` in Python, `stale` in SQL.
"""
from __future__ import annotations

import time

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import ServiceState


def fresh(expires_at: float | None, now: float | None = None) -> bool:
    """Whether a lease expiring at `expires_at` (epoch seconds) still holds at `now`."""
    return expires_at is not None and expires_at > (time.time() if now is None else now)


def stale(expires_at, now: float):
    """SQL condition: the lease expiring at the column expression `expires_at` may be taken over at `now`."""
    return or_(expires_at.is_(None), expires_at <= now)


def ensure(name: str, **defaults) -> None:
    """Create the lease's row (with `defaults` for its other columns) unless it exists."""
    if db.session.get(ServiceState, name) is not None:
        return
    try:
        # In a savepoint, so that losing the race to another process also drops our pending row.
        with db.session.begin_nested():
            db.session.add(ServiceState(name=name, **{"active": False, "state": {}, **defaults}))
    except IntegrityError:  # another process created it first
        pass


def acquire(name: str, owner: str, seconds: float, *, reentrant: bool = True, where=()) -> bool:
    """Take the lease for `seconds` unless another owner holds it and it is fresh; True if `owner` holds it now.

    reentrant: the holder itself may take it again (renewing it); False refuses any fresh holder.
    where: further conditions on the row (a service's lease is only taken while the service is active).
    One conditional UPDATE: of several processes racing for a free lease, exactly one matches.
    """
    now = time.time()
    free = stale(ServiceState.lease_expires_at, now) | ServiceState.lease_owner.is_(None)
    if reentrant:
        free = free | (ServiceState.lease_owner == owner)
    result = db.session.execute(
        update(ServiceState).where(ServiceState.name == name, free, *where)
        .values(lease_owner=owner, lease_expires_at=now + seconds).execution_options(synchronize_session=False))
    return result.rowcount == 1


def renew(name: str, owner: str, seconds: float) -> bool:
    """Extend the lease by `seconds` from now; False (nothing changed) unless `owner` is its holder."""
    result = db.session.execute(
        update(ServiceState).where(ServiceState.name == name, ServiceState.lease_owner == owner)
        .values(lease_expires_at=time.time() + seconds).execution_options(synchronize_session=False))
    return result.rowcount == 1


def release(name: str, owner: str) -> bool:
    """Give the lease back so another process can take it at once; False (nothing changed) unless `owner` holds it."""
    result = db.session.execute(
        update(ServiceState).where(ServiceState.name == name, ServiceState.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None).execution_options(synchronize_session=False))
    return result.rowcount == 1


def holder(name: str) -> str | None:
    """Who holds the lease now (None when nobody does or it is stale)."""
    row = db.session.execute(select(ServiceState.lease_owner, ServiceState.lease_expires_at)
                             .where(ServiceState.name == name)).first()
    return row.lease_owner if row is not None and fresh(row.lease_expires_at) else None
