"""Discogs: the user's collection (folder 0, every release) page by page, and release details."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from ..config import Config
from ..errors import NotConfigured
from ..services.matching import Candidate
from .http import IntegrationError, JsonClient, RetryPolicy

PER_PAGE = 100  # Discogs' maximum
_SUFFIX = re.compile(r"\s+\(\d+\)$")  # Discogs disambiguation: "Night Time Stories (2)"
SUPPORTS = {"vinyl": "Vinyl", "cd": "CD", "cassette": "Cassette", "file": "Digital", "box set": "Box Set"}


@dataclass(frozen=True)
class Release:
    """A collection item as AIME stores it."""

    discogs_id: int
    title: str
    artists: list[str]
    year: int | None
    labels: list[str] = field(default_factory=list)
    catalog_number: str | None = None
    support: str | None = None
    genre: str | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class CollectionPage:
    """One page of folder 0."""

    releases: list[Release]
    page: int
    pages: int
    items: int


def require_config(config: Config) -> None:
    """Raise NotConfigured naming what to set when Discogs credentials are missing."""
    missing = [name for name, value in (("AIME_DISCOGS_TOKEN", config.discogs_token),
                                        ("AIME_DISCOGS_USER", config.discogs_user)) if not value]
    if missing:
        raise NotConfigured(f"Discogs is not configured: set {' and '.join(missing)}.")


def clean_name(name: str) -> str:
    """A Discogs name without its "(2)" disambiguation suffix."""
    return _SUFFIX.sub("", (name or "").strip())


class DiscogsClient:
    """Read-only access to one user's collection."""

    def __init__(self, base_url: str, token: str, user: str, *, timeout: float = 10.0,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] | None = None):
        extra = {"sleep": sleep} if sleep is not None else {}
        self.http = JsonClient(base_url, service="Discogs", timeout=timeout, policy=policy,
                               headers={"Authorization": f"Discogs token={token}"}, **extra)
        self.user = user

    @classmethod
    def from_config(cls, config: Config, **kwargs) -> DiscogsClient:
        """A client for the configured user (NotConfigured when credentials are missing)."""
        require_config(config)
        return cls(config.discogs_base_url, config.discogs_token, config.discogs_user, **kwargs)

    def collection_page(self, page: int = 1, per_page: int = PER_PAGE) -> CollectionPage:
        """One page of the user's folder 0 (all releases), oldest addition first."""
        payload = self.http.get_json(f"/users/{self.user}/collection/folders/0/releases",
                                     {"page": page, "per_page": per_page, "sort": "added", "sort_order": "asc"})
        return parse_collection_page(payload)

    def release(self, release_id: int) -> dict:
        """A release's details (tracklist, identifiers...) as Discogs sends them."""
        payload = self.http.get_json(f"/releases/{int(release_id)}")
        if not isinstance(payload, dict) or "id" not in payload:
            raise IntegrationError("Discogs sent release details that AIME cannot read.")
        return payload

    def search_releases(self, artist: str, title: str, limit: int = 10) -> list[Candidate]:
        """Database search for releases of `title` by `artist`, one candidate per master (pressings fold)."""
        payload = self.http.get_json("/database/search", {"type": "release", "artist": artist,
                                                          "release_title": title, "per_page": limit})
        try:
            return [_search_candidate(item) for item in payload["results"]]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise IntegrationError("Discogs sent a search result that AIME cannot read.") from None


def primary_image(release: dict) -> str | None:
    """The primary (else first) image URL of a release's details."""
    images = [i for i in release.get("images") or [] if isinstance(i, dict) and i.get("uri")]
    chosen = next((i for i in images if i.get("type") == "primary"), images[0] if images else None)
    return chosen["uri"] if chosen else None


def _search_candidate(item: dict) -> Candidate:
    # Search titles read "Artist - Title"; the artist part may carry the "(2)" suffix.
    artist, sep, title = str(item["title"]).partition(" - ")
    if not sep:
        artist, title = "", artist
    year = int(item.get("year") or 0) or None
    image = item.get("cover_image") or None
    data: dict[str, Any] = {"discogs_url": f"https://www.discogs.com/release/{int(item['id'])}"}
    if image and not image.endswith("spacer.gif"):  # Discogs' stand-in when a release has no image
        data["image_url"] = image
    if year:
        data["year"] = year
    ref = f"master-{item['master_id']}" if item.get("master_id") else f"release-{item['id']}"
    return Candidate(ref=ref, artist=clean_name(artist), title=title.strip(), year=year, data=data)


def parse_collection_page(payload: Any) -> CollectionPage:
    """Turn a collection releases body into a CollectionPage; IntegrationError when it is not one."""
    try:
        pagination = payload["pagination"]
        releases = [parse_release(item["basic_information"]) for item in payload["releases"]]
        return CollectionPage(releases=releases, page=int(pagination["page"]), pages=int(pagination["pages"]),
                              items=int(pagination.get("items", len(releases))))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IntegrationError("Discogs sent a collection page that AIME cannot read.") from None


def parse_release(info: dict) -> Release:
    """A basic_information object as a Release."""
    artists = [clean_name(a["name"]) for a in info.get("artists") or []]
    labels: list[str] = []
    for label in info.get("labels") or []:
        name = clean_name(label.get("name", ""))
        if name and name not in labels:
            labels.append(name)
    catnos = [str(label.get("catno") or "").strip() for label in info.get("labels") or []]
    catno = next((c for c in catnos if c and c.lower() != "none"), None)
    formats = info.get("formats") or []
    support = None
    if formats:
        name = str(formats[0].get("name") or "").strip()
        support = SUPPORTS.get(name.lower(), name or None)
    year = int(info.get("year") or 0) or None  # Discogs says 0 when the year is unknown
    genres = info.get("genres") or []
    title = str(info["title"]).strip()
    if not title or not artists:
        raise ValueError("release without title or artist")
    return Release(discogs_id=int(info["id"]), title=title, artists=artists, year=year, labels=labels,
                   catalog_number=catno, support=support, genre=genres[0] if genres else None,
                   image_url=info.get("cover_image") or None)
