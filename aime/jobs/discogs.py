"""The Discogs background service: one full sync (aime.services.discogs_sync) per interval, run by the lease holder."""
from __future__ import annotations

import logging

from flask import Flask

from ..config import Config, config_of
from ..errors import AimeError
from ..integrations.discogs import require_config
from ..services.discogs_sync import NAME, sync
from ..timeutil import to_epoch, utcnow
from .claims import claim_job
from .runtime import BackgroundService, read_state

log = logging.getLogger(__name__)


class DiscogsSync(BackgroundService):
    """The background service: one full sync per interval while this process holds the lease."""

    name = NAME

    def __init__(self, interval: float):
        self.interval = interval

    def require_config(self, config: Config) -> None:
        """Raise NotConfigured when Discogs credentials are missing."""
        require_config(config)

    def tick(self, app: Flask) -> None:
        """Sync once; failures are recorded in the state (sync() does it), not raised."""
        state = read_state(NAME)
        if state.get("status") == "done" and to_epoch(utcnow()) - int(state.get("finished_epoch") or 0) < self.interval:
            return  # a restart (new lease holder) must not mean a new full sync
        try:
            claim_job(NAME)  # Conflict while a sync asked for through the API is still going
            sync(config_of(app))
        except AimeError as error:
            log.warning("discogs sync failed: %s", error.detail)
