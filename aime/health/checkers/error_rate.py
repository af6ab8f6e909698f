"""error_rate: warn when the share of 5xx answers over the last 5 minutes passes AIME_ERROR_RATE_WARN."""
from __future__ import annotations

import threading
import time
from collections import deque

from flask import current_app

from ...config import config_of
from ...observability.metrics import get_metrics, totals
from .base import Checker, CheckResult, passed, warned

WINDOW_SECONDS = 300.0


class ErrorRateChecker(Checker):
    """Windowed 5xx share, computed from the cumulative counters every worker shares."""

    name = "error_rate"
    critical = False
    component_type = "component"
    measurement = "errorRate"

    def __init__(self) -> None:
        # (time, requests, errors) snapshots; the counters are cumulative, so the window is a difference.
        self._history: deque[tuple[float, int, int]] = deque()
        self._lock = threading.Lock()

    def check(self) -> CheckResult:
        """5xx / requests between the oldest snapshot inside the window and now."""
        app = current_app._get_current_object()
        threshold = config_of(app).error_rate_warn
        now = time.time()
        requests_now, errors_now = totals(app)
        with self._lock:
            if not self._history:
                # Counters start at zero when the service starts: that is the first snapshot.
                self._history.append((get_metrics(app).started_at, 0, 0))
            self._history.append((now, requests_now, errors_now))
            while len(self._history) > 2 and self._history[1][0] <= now - WINDOW_SECONDS:
                self._history.popleft()
            _t0, requests_then, errors_then = self._history[0]
        requests = max(0, requests_now - requests_then)
        errors = max(0, errors_now - errors_then)
        if requests == 0:
            return passed("no requests in the last 5 minutes", 0.0, "%", requests=0, errors=0)
        rate = round(100.0 * errors / requests, 2)
        message = f"{errors} of {requests} requests failed in the last 5 minutes ({rate:.2f}%)"
        if rate > threshold:
            return warned(message + f", above {threshold}%", rate, "%", requests=requests, errors=errors)
        return passed(message, rate, "%", requests=requests, errors=errors)
