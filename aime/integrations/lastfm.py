"""Last.fm: user.getRecentTracks, one page at a time, as plain scrobble records."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from ..config import Config
from ..errors import NotConfigured
from ..services.matching import Candidate
from .http import IntegrationError, JsonClient, RetryableError, RetryPolicy

PAGE_LIMIT = 200  # the most Last.fm returns per page
# Last.fm error codes that mean "try again later" (operation failed, service offline, temporarily
# unavailable, rate limit exceeded); every other code is a real refusal (bad key, unknown user...).
RETRYABLE_CODES = {8, 11, 16, 29}
ALBUM_NOT_FOUND = 6  # Last.fm's "Album not found" (error 6 is also "invalid parameters" for unknown names)


class _AlbumNotFound(Exception):
    """album.getInfo knows no such album (not an error of the service)."""


@dataclass(frozen=True)
class Scrobble:
    """One finished play: who, what, from which album (or none), when (UTC epoch seconds)."""

    artist: str
    title: str
    album: str | None
    played_at: int


@dataclass(frozen=True)
class RecentPage:
    """One page of recent tracks (newest first), without the now-playing entry."""

    scrobbles: list[Scrobble]
    page: int
    total_pages: int
    total: int


def require_config(config: Config) -> None:
    """Raise NotConfigured naming what to set when Last.fm credentials are missing."""
    missing = [name for name, value in (("AIME_LASTFM_API_KEY", config.lastfm_api_key),
                                        ("AIME_LASTFM_USER", config.lastfm_user)) if not value]
    if missing:
        raise NotConfigured(f"Last.fm is not configured: set {' and '.join(missing)}.")


class LastfmClient:
    """user.getRecentTracks for one user."""

    def __init__(self, base_url: str, api_key: str, user: str, *, timeout: float = 10.0,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] | None = None):
        extra = {"sleep": sleep} if sleep is not None else {}
        self.http = JsonClient(base_url, service="Last.fm", timeout=timeout, policy=policy, **extra)
        self._api_key = api_key
        self.user = user

    @classmethod
    def from_config(cls, config: Config, **kwargs) -> LastfmClient:
        """A client for the configured user (NotConfigured when credentials are missing)."""
        require_config(config)
        return cls(config.lastfm_base_url, config.lastfm_api_key, config.lastfm_user, **kwargs)

    def recent_tracks(self, page: int = 1, *, since: int | None = None, until: int | None = None,
                      limit: int = PAGE_LIMIT) -> RecentPage:
        """One page of the user's scrobbles with since <= uts <= until (Last.fm's from/to), newest first."""
        params: dict[str, Any] = {"method": "user.getrecenttracks", "user": self.user, "api_key": self._api_key,
                                  "format": "json", "limit": limit, "page": page}
        if since is not None:
            params["from"] = since
        if until is not None:
            params["to"] = until
        payload = self.http.get_json("/", params, check=_check_error)
        return parse_recent_tracks(payload)

    def album_info(self, artist: str, album: str) -> Candidate | None:
        """album.getInfo as a matching Candidate (largest image, MusicBrainz id, track count), or None when unknown."""
        params = {"method": "album.getinfo", "artist": artist, "album": album, "api_key": self._api_key,
                  "format": "json", "autocorrect": 0}

        def check(payload: Any) -> None:
            # Last.fm may send "not found" with HTTP 200 or 4xx: the body decides, before the status does.
            if isinstance(payload, dict) and payload.get("error") == ALBUM_NOT_FOUND:
                raise _AlbumNotFound
            _check_error(payload)

        try:
            payload = self.http.get_json("/", params, check=check)
        except _AlbumNotFound:
            return None
        try:
            body = payload["album"]
            images = {i.get("size"): i.get("#text") for i in body.get("image") or [] if i.get("#text")}
            tracks = (body.get("tracks") or {}).get("track") or []
            tracks = [tracks] if isinstance(tracks, dict) else tracks
            data = {"image_url": images.get("mega") or images.get("extralarge") or images.get("large")}
            if body.get("mbid"):
                data["release_mbid"] = body["mbid"]
            return Candidate(ref=body.get("mbid") or body.get("url") or body["name"], artist=_text(body["artist"]),
                             title=str(body["name"]), track_count=len(tracks) or None, data=data)
        except (KeyError, TypeError, AttributeError):
            raise IntegrationError("Last.fm sent an album.getInfo response that AIME cannot read.") from None


def _check_error(payload: Any) -> None:
    if isinstance(payload, dict) and "error" in payload:
        code = payload.get("error")
        message = str(payload.get("message") or "")[:200]
        if code in RETRYABLE_CODES:
            raise RetryableError(f"Last.fm error {code}")
        raise IntegrationError(f"Last.fm refused the request: error {code} {message}".strip())


def parse_recent_tracks(payload: Any) -> RecentPage:
    """Turn a recenttracks JSON body into a RecentPage; IntegrationError when it is not one."""
    try:
        body = payload["recenttracks"]
        attr = body.get("@attr", {})
        items = body.get("track", [])
        if isinstance(items, dict):  # Last.fm sends a bare object when the page has one track
            items = [items]
        scrobbles = [s for s in (_scrobble(item) for item in items) if s is not None]
        return RecentPage(scrobbles=scrobbles, page=int(attr.get("page", 1)),
                          total_pages=int(attr.get("totalPages", 1)), total=int(attr.get("total", len(scrobbles))))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IntegrationError("Last.fm sent a recenttracks response that AIME cannot read.") from None


def _scrobble(item: dict) -> Scrobble | None:
    if str(item.get("@attr", {}).get("nowplaying", "")).lower() == "true":
        return None  # playing now: it becomes a scrobble (with a date) once finished
    artist = _text(item["artist"])
    title = str(item["name"]).strip()
    album = _text(item.get("album")) or None
    played_at = int(item["date"]["uts"])
    if not artist or not title:
        raise ValueError("scrobble without artist or title")
    return Scrobble(artist=artist, title=title, album=album, played_at=played_at)


def _text(value: Any) -> str:
    # Plain responses carry {"#text": ...}; extended=1 ones carry {"name": ...}.
    if isinstance(value, dict):
        value = value.get("#text") or value.get("name") or ""
    return str(value or "").strip()
