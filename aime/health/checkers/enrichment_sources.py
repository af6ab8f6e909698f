"""Enrichment sources without credentials of their own (MusicBrainz, Cover Art Archive): shown only when configured;
configured and failing (unreachable, 5xx, 429) warns, never fails: pages and the API work without them.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import requests
from flask import Flask

from ...config import Config, config_of, current_config
from ...integrations.http import USER_AGENT
from .base import Checker, CheckResult, passed, warned


class SourceChecker(Checker):
    """Does the source's endpoint answer, and not with a server error or a rate limit?"""

    critical = False
    component_type = "component"
    measurement = "responseTime"

    def __init__(self, name: str, configured: Callable[[Config], bool], url: Callable[[Config], str]):
        self.name = name
        self._configured = configured
        self._url = url

    def enabled(self, app: Flask) -> bool:
        """Registered only when the source is configured (an unconfigured source is not shown)."""
        return self._configured(config_of(app))

    def check(self) -> CheckResult:
        """One GET without credentials; any answer below 500 but 429 passes."""
        config: Config = current_config()
        url = self._url(config)
        started = time.perf_counter()
        try:
            response = requests.get(url, timeout=max(0.05, config.health_check_timeout * 0.8), allow_redirects=False,
                                    headers={"User-Agent": f"{USER_AGENT} ( {config.musicbrainz_contact or '-'} )"})
        except requests.RequestException as error:
            ms = round((time.perf_counter() - started) * 1000, 2)
            return warned(f"unreachable ({type(error).__name__})", ms, "ms", url=url)
        ms = round((time.perf_counter() - started) * 1000, 2)
        if response.status_code >= 500 or response.status_code == 429:
            return warned(f"answering HTTP {response.status_code}", ms, "ms", url=url)
        return passed(f"reachable (HTTP {response.status_code})", ms, "ms", url=url)


def enrichment_checkers() -> list[SourceChecker]:
    """One checker per credential-free enrichment source."""
    on = lambda c: bool(c.musicbrainz_contact)  # noqa: E731 - both follow the one setting
    return [SourceChecker("musicbrainz", on, lambda c: c.musicbrainz_base_url + "/"),
            SourceChecker("coverartarchive", on, lambda c: c.coverart_base_url + "/")]
