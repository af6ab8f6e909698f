"""background_services: warn when a service marked active is not actually running (no live lease)."""
from __future__ import annotations

import time

import sqlalchemy as sa

from ...extensions import db
from ...services.importers.submit import NOW_PLAYING
from .base import Checker, CheckResult, passed, warned


class BackgroundServicesChecker(Checker):
    """Reads service_states: active rows need a lease that has not expired."""

    name = "background_services"
    critical = False
    component_type = "component"
    measurement = "stalled"

    def check(self) -> CheckResult:
        """List active services whose lease is missing or expired."""
        now = time.time()
        # The playing-now row shares the table but is no service: it is "active" while a track plays, with no lease.
        query = sa.text("SELECT name, lease_owner, lease_expires_at FROM service_states "
                        "WHERE active = :active AND name <> :now_playing")
        with db.engine.connect() as connection:
            rows = connection.execute(query, {"active": True, "now_playing": NOW_PLAYING}).all()
        stalled = sorted(name for name, owner, expires in rows if not owner or expires is None or expires < now)
        if stalled:
            return warned(f"active but not running: {', '.join(stalled)}", len(stalled), "services",
                          active=len(rows), stalled=stalled)
        return passed(f"{len(rows)} active service(s) running", 0, "services", active=len(rows))
