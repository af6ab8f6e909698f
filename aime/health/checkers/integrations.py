"""External integrations (Last.fm, Discogs, Spotify, AI).

Never critical; unconfigured passes (disabled), unreachable warns.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import requests

from ...config import Config, current_config
from .base import Checker, CheckResult, passed, warned


class IntegrationChecker(Checker):
    """Is the integration configured, and does its endpoint answer HTTP at all?"""

    critical = False
    component_type = "component"
    measurement = "responseTime"

    def __init__(self, name: str, configured: Callable[[Config], bool], url: Callable[[Config], str | None]):
        self.name = name
        self._configured = configured
        self._url = url

    def check(self) -> CheckResult:
        """Any HTTP answer (even 401/404) proves reachability; no credential is sent."""
        config: Config = current_config()
        if not self._configured(config):
            # Optional: a fresh install without it is whole, so "healthy" (the checklist expects it).
            return passed("disabled (not configured)")
        url = self._url(config)
        started = time.perf_counter()
        try:
            # Leave room inside the check deadline so a slow endpoint ends as "unreachable", not a timeout.
            response = requests.get(url, timeout=max(0.05, config.health_check_timeout * 0.8), allow_redirects=False)
        except requests.RequestException as error:
            ms = round((time.perf_counter() - started) * 1000, 2)
            return warned(f"unreachable ({type(error).__name__})", ms, "ms", url=url)
        ms = round((time.perf_counter() - started) * 1000, 2)
        return passed(f"reachable (HTTP {response.status_code})", ms, "ms", url=url)


def integration_checkers() -> list[IntegrationChecker]:
    """One checker per external integration."""
    return [
        IntegrationChecker("lastfm", lambda c: bool(c.lastfm_api_key), lambda c: c.lastfm_base_url + "/"),
        IntegrationChecker("discogs", lambda c: bool(c.discogs_token), lambda c: c.discogs_base_url + "/"),
        IntegrationChecker("spotify", lambda c: bool(c.spotify_client_id and c.spotify_client_secret),
                           lambda c: c.spotify_accounts_url + "/"),
        IntegrationChecker("ai", lambda c: bool(c.ai_base_url), lambda c: c.ai_base_url + "/models"),
    ]
