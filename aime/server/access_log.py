"""gunicorn's logger, working out an access line's fields only when the line is written."""
from __future__ import annotations

import logging

from gunicorn.glogging import Logger


class AccessLogger(Logger):
    """gunicorn's Logger, whose access log counts as enabled only when its logger writes INFO lines.

    A `logconfig_dict` (gunicorn.conf.py has one, for JSON lines) makes gunicorn take its access log as enabled
    whatever its level, so every request had its access fields worked out (`atoms`: the request's headers and
    environ, a date, a dict of about 30 entries) for a line the logger's WARNING level then dropped. With
    AIME_GUNICORN_ACCESS_LOG set, the logger is at INFO and every line is written as before.
    (tests/ops/test_overridden_internals.py checks gthread still asks `access_log_enabled` through `access`.)
    """

    @property
    def access_log_enabled(self) -> bool:
        """gunicorn's answer, and the access logger writes INFO (read per request: a cached level check)."""
        return super().access_log_enabled and self.access_log.isEnabledFor(logging.INFO)
