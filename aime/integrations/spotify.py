"""Spotify Web API with client credentials: token cached until it expires, album search (429 Retry-After honoured)."""
from __future__ import annotations

import threading
import time
from typing import Any
from collections.abc import Callable

import requests

from ..config import Config
from ..errors import NotConfigured
from ..services.matching import Candidate
from .http import IntegrationError, JsonClient, RetryPolicy, make_session

TOKEN_MARGIN = 60.0  # renew a minute early: a token must not expire between our check and Spotify's


def require_config(config: Config) -> None:
    """Raise NotConfigured naming what to set when the Spotify client credentials are missing."""
    missing = [name for name, value in (("AIME_SPOTIFY_CLIENT_ID", config.spotify_client_id),
                                        ("AIME_SPOTIFY_CLIENT_SECRET", config.spotify_client_secret)) if not value]
    if missing:
        raise NotConfigured(f"Spotify is not configured: set {' and '.join(missing)}.")


class SpotifyClient:
    """Album search with an app token (no user account involved)."""

    def __init__(self, base_url: str, accounts_url: str, client_id: str, client_secret: str, *,
                 timeout: float = 10.0, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] = time.monotonic):
        extra = {"sleep": sleep} if sleep is not None else {}
        self.http = JsonClient(base_url, service="Spotify", timeout=timeout, policy=policy, **extra)
        self.accounts_url = accounts_url.rstrip("/")
        self._credentials = (client_id, client_secret)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.clock = clock
        self.tokens_fetched = 0
        self._session = make_session()

    @classmethod
    def from_config(cls, config: Config, **kwargs) -> SpotifyClient:
        """A client for the configured app (NotConfigured when credentials are missing)."""
        require_config(config)
        return cls(config.spotify_base_url, config.spotify_accounts_url, config.spotify_client_id,
                   config.spotify_client_secret, timeout=config.http_timeout_seconds, **kwargs)

    def token(self) -> str:
        """The cached app token, fetched again only when it is (nearly) expired."""
        with self._lock:
            if self._token is None or self.clock() >= self._expires_at:
                self._fetch_token()
            return self._token

    def _fetch_token(self) -> None:
        try:
            response = self._session.post(f"{self.accounts_url}/api/token", data={"grant_type": "client_credentials"},
                                          auth=self._credentials, timeout=self.http.timeout)
        except requests.RequestException as error:
            raise IntegrationError(f"Spotify accounts did not answer ({type(error).__name__}).") from None
        if response.status_code != 200:
            raise IntegrationError(f"Spotify refused the client credentials (HTTP {response.status_code}).")
        try:
            body = response.json()
            self._token = str(body["access_token"])
            self._expires_at = self.clock() + float(body.get("expires_in", 3600)) - TOKEN_MARGIN
        except (ValueError, KeyError, TypeError):
            raise IntegrationError("Spotify accounts sent a token response that AIME cannot read.") from None
        self.tokens_fetched += 1

    def search_albums(self, artist: str, title: str, limit: int = 10) -> list[Candidate]:
        """Albums matching the artist and title, as candidates."""
        params = {"q": f'album:"{title}" artist:"{artist}"', "type": "album", "limit": limit}
        self.http.session.headers["Authorization"] = f"Bearer {self.token()}"
        try:
            payload = self.http.get_json("/search", params)
        except IntegrationError as error:
            if "HTTP 401" not in error.detail:
                raise
            with self._lock:  # revoked or expired early: one new token, one more try
                self._fetch_token()
            self.http.session.headers["Authorization"] = f"Bearer {self.token()}"
            payload = self.http.get_json("/search", params)
        return parse_albums(payload)


def parse_albums(payload: Any) -> list[Candidate]:
    """Candidates from a /search?type=album body; IntegrationError when it is not one."""
    try:
        return [_candidate(item) for item in payload["albums"]["items"] if item]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IntegrationError("Spotify sent a search result that AIME cannot read.") from None


def _candidate(item: dict) -> Candidate:
    date = str(item.get("release_date") or "")
    year = int(date[:4]) if date[:4].isdigit() else None
    images = sorted(item.get("images") or [], key=lambda i: -(i.get("width") or 0))
    data: dict[str, Any] = {"spotify_url": (item.get("external_urls") or {}).get("spotify")}
    if images:
        data["image_url"] = images[0]["url"]
    if year:
        data["year"] = year
    artist = ", ".join(a["name"] for a in item.get("artists") or [])
    return Candidate(ref=str(item["id"]), artist=artist, title=str(item["name"]), year=year,
                     track_count=item.get("total_tracks"), data=data)
