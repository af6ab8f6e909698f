"""MusicBrainz release-group search (one request a second, a User-Agent naming a contact) and the Cover Art Archive."""
from __future__ import annotations

import threading
import time
from typing import Any
from collections.abc import Callable

from ..config import Config
from ..errors import NotConfigured
from ..services.matching import Candidate
from .http import USER_AGENT, IntegrationError, JsonClient, RetryPolicy

MIN_INTERVAL = 1.0  # MusicBrainz allows one request per second per client; more gets 503s and then a ban


def require_config(config: Config) -> None:
    """Raise NotConfigured unless AIME_MUSICBRAINZ_CONTACT is set (MusicBrainz requires it in the User-Agent)."""
    if not config.musicbrainz_contact:
        raise NotConfigured("MusicBrainz is not configured: set AIME_MUSICBRAINZ_CONTACT (an e-mail or URL).")


def _quote(text: str) -> str:
    # Lucene phrase: backslash-escape the characters that end or break it.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MusicBrainzClient:
    """Release-group search, paced to one request per interval across threads."""

    def __init__(self, base_url: str, contact: str, *, timeout: float = 10.0, policy: RetryPolicy | None = None,
                 interval: float = MIN_INTERVAL, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.http = JsonClient(base_url, service="MusicBrainz", timeout=timeout, policy=policy, sleep=sleep,
                               headers={"User-Agent": f"{USER_AGENT} ( {contact} )"})
        self.interval, self.sleep, self.clock = interval, sleep, clock
        self._lock = threading.Lock()
        self._next_at = 0.0

    @classmethod
    def from_config(cls, config: Config, **kwargs) -> MusicBrainzClient:
        """A client for the configured contact (NotConfigured without one)."""
        require_config(config)
        return cls(config.musicbrainz_base_url, config.musicbrainz_contact, timeout=config.http_timeout_seconds,
                   **kwargs)

    def _paced_get(self, path: str, params: dict) -> Any:
        # One request at a time, each starting a full interval after the previous one was answered: counted
        # from the answer, not from the sending, so a request delayed on its way cannot bunch up with the next.
        with self._lock:
            wait = self._next_at - self.clock()
            if wait > 0:
                self.sleep(wait)
            try:
                return self.http.get_json(path, params)
            finally:
                self._next_at = self.clock() + self.interval

    def search_release_groups(self, artist: str, title: str, limit: int = 10) -> list[Candidate]:
        """Release groups whose title and artist match the phrase query, as candidates."""
        query = f"releasegroup:{_quote(title)} AND artist:{_quote(artist)}"
        return parse_release_groups(self._paced_get("/release-group", {"query": query, "fmt": "json", "limit": limit}))


def parse_release_groups(payload: Any) -> list[Candidate]:
    """Candidates from a /release-group search body; IntegrationError when it is not one."""
    try:
        groups = payload["release-groups"]
        return [_candidate(group) for group in groups]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IntegrationError("MusicBrainz sent a search result that AIME cannot read.") from None


def _candidate(group: dict) -> Candidate:
    credit = "".join(f"{c.get('name') or c['artist']['name']}{c.get('joinphrase', '')}"
                     for c in group.get("artist-credit") or [])
    date = str(group.get("first-release-date") or "")
    year = int(date[:4]) if date[:4].isdigit() else None
    releases = [r for r in group.get("releases") or [] if r.get("id")]
    official = next((r for r in releases if r.get("status") == "Official"), releases[0] if releases else None)
    data = {"musicbrainz_release_group_id": group["id"], "primary_type": group.get("primary-type")}
    if official is not None:
        data["release_mbid"] = official["id"]
    if year:
        data["year"] = year
    return Candidate(ref=group["id"], artist=credit, title=str(group["title"]), year=year, data=data)


class CoverArtArchive:
    """Front covers by MusicBrainz release group (or release) id."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] | None = None):
        extra = {"sleep": sleep} if sleep is not None else {}
        self.http = JsonClient(base_url, service="Cover Art Archive", timeout=timeout, policy=policy, **extra)

    @classmethod
    def from_config(cls, config: Config, **kwargs) -> CoverArtArchive:
        """A client for the configured base URL."""
        return cls(config.coverart_base_url, timeout=config.http_timeout_seconds, **kwargs)

    def front_url(self, mbid: str, kind: str = "release-group") -> str | None:
        """The URL of the front image (the 1200 px thumbnail when there is one), or None when there is no cover."""
        payload = self.http.get_json(f"/{kind}/{mbid}", missing_ok=True)
        if payload is None:
            return None
        try:
            images = payload["images"]
            front = next((image for image in images if image.get("front")), None)
            if front is None:
                return None
            thumbs = front.get("thumbnails") or {}
            return thumbs.get("1200") or thumbs.get("large") or front["image"]
        except (KeyError, TypeError, AttributeError):
            raise IntegrationError("The Cover Art Archive sent a listing that AIME cannot read.") from None
