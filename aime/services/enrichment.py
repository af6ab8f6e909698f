"""Enrich one album from the configured sources: a stored cover, the year when unknown, the Spotify and Discogs
links, MusicBrainz ids. Fields the user typed are never changed; ambiguous matches are reported, not guessed.
The release id is the album's own `release_mbid` (imports fill it too): a known one is used, never overwritten.

Sources are asked outside any transaction (they are slow and rate-limited); what they proposed is written in one
short transaction that re-reads the album, so an edit made meanwhile wins.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from ..config import Config
from ..database import run_write
from ..errors import AimeError, NotConfigured, NotFound
from ..extensions import db
from ..integrations.discogs import DiscogsClient, primary_image
from ..integrations.images import ImageFetcher
from ..integrations.lastfm import LastfmClient
from ..integrations.musicbrainz import CoverArtArchive, MusicBrainzClient
from ..integrations.spotify import SpotifyClient
from ..models import Album, AlbumEnrichment, Track
from . import covers
from .matching import Candidate, MatchResult, choose

log = logging.getLogger(__name__)
SOURCES = ("musicbrainz", "discogs", "spotify", "lastfm")  # also the order in which their proposals win
ALBUM_FIELDS = ("year", "spotify_url", "discogs_url")  # album columns enrichment may fill when empty
RELEASE_FIELD = "release_mbid"  # albums.release_mbid: filled when empty, a different finding is a conflict
ID_FIELDS = (RELEASE_FIELD, "musicbrainz_release_group_id")
USER_FIELDS = ("title", "artists", "year", "support", "genre", "labels", "catalog_number", "discogs_id",
               "spotify_url", "discogs_url", "apple_music_url", "image_url", "ai_description")


@dataclass
class Sources:
    """The configured clients (None when a source is not configured); one set per run, so tokens and pacing hold."""

    musicbrainz: MusicBrainzClient | None = None
    coverart: CoverArtArchive | None = None
    discogs: DiscogsClient | None = None
    spotify: SpotifyClient | None = None
    lastfm: LastfmClient | None = None
    images: ImageFetcher | None = None

    @classmethod
    def from_config(cls, config: Config) -> Sources:
        """Clients for every source whose settings are present."""
        timeout = config.http_timeout_seconds
        sources = cls(images=ImageFetcher(config.cover_max_mb * 1024 * 1024, timeout=timeout))
        if config.musicbrainz_contact:
            sources.musicbrainz = MusicBrainzClient.from_config(config)
            sources.coverart = CoverArtArchive.from_config(config)
        if config.discogs_token:
            sources.discogs = DiscogsClient(config.discogs_base_url, config.discogs_token,
                                            config.discogs_user or "", timeout=timeout)
        if config.spotify_client_id and config.spotify_client_secret:
            sources.spotify = SpotifyClient.from_config(config)
        if config.lastfm_api_key:
            sources.lastfm = LastfmClient(config.lastfm_base_url, config.lastfm_api_key, config.lastfm_user or "",
                                          timeout=timeout)
        return sources

    def names(self) -> list[str]:
        """The configured sources, in order."""
        return [name for name in SOURCES if getattr(self, name) is not None]


def configured_sources(config: Config) -> list[str]:
    """Names of the sources the settings turn on."""
    return [name for name, on in (("musicbrainz", bool(config.musicbrainz_contact)),
                                  ("discogs", bool(config.discogs_token)),
                                  ("spotify", bool(config.spotify_client_id and config.spotify_client_secret)),
                                  ("lastfm", bool(config.lastfm_api_key))) if on]


def require_sources(config: Config) -> None:
    """NotConfigured (503) when no enrichment source is configured."""
    if not configured_sources(config):
        raise NotConfigured("No enrichment source is configured: set AIME_MUSICBRAINZ_CONTACT, AIME_DISCOGS_TOKEN, "
                            "AIME_SPOTIFY_CLIENT_ID/SECRET or AIME_LASTFM_API_KEY.")


@dataclass
class Snapshot:
    """What enrichment needs to know about an album, read in one short transaction."""

    album_id: int
    title: str
    artist: str
    year: int | None
    track_count: int | None
    discogs_id: int | None
    image_url: str | None
    values: dict[str, Any]
    user_fields: set[str]
    cover_sha256: str | None
    cover_source_url: str | None
    musicbrainz_release_group_id: str | None
    release_mbid: str | None


@dataclass
class Findings:
    """What the sources said: matches, ambiguities, errors, proposed values (with their source) and images."""

    matches: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, list[dict]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    proposed: dict[str, tuple[Any, str]] = field(default_factory=dict)
    images: list[tuple[str, str]] = field(default_factory=list)  # (source, url) in preference order

    def offer(self, source: str, data: dict) -> None:
        """Keep the first source's value of each field (sources are asked in preference order)."""
        for name, value in data.items():
            if value not in (None, "") and name in ALBUM_FIELDS + ID_FIELDS and name not in self.proposed:
                self.proposed[name] = (value, source)
        if data.get("image_url"):
            self.images.append((source, data["image_url"]))


def snapshot(album_id: int) -> Snapshot:
    """Read the album and its enrichment row; NotFound when it does not exist."""
    album = db.session.get(Album, album_id)
    if album is None:
        raise NotFound(f"Album {album_id} does not exist.")
    row = db.session.get(AlbumEnrichment, album_id)
    tracks = db.session.scalar(select(func.count(Track.id)).where(Track.album_id == album_id,
                                                                   Track.track_number.is_not(None)))
    artists = album.artists
    snap = Snapshot(album_id=album.id, title=album.title, artist=artists[0].name if artists else "",
                    year=album.year, track_count=tracks or None, discogs_id=album.discogs_id,
                    image_url=album.image_url, values={name: getattr(album, name) for name in ALBUM_FIELDS},
                    user_fields=set(row.user_fields or []) if row else set(),
                    cover_sha256=row.cover_sha256 if row else None,
                    cover_source_url=row.cover_source_url if row else None,
                    musicbrainz_release_group_id=row.musicbrainz_release_group_id if row else None,
                    release_mbid=album.release_mbid)
    db.session.rollback()  # no transaction stays open while the sources are asked
    return snap


def enrich_album(config: Config, album_id: int, sources: Sources | None = None) -> dict:
    """Ask every configured source about one album, store what is new, and report what changed."""
    sources = sources or Sources.from_config(config)
    if not sources.names():
        require_sources(config)
    snap = snapshot(album_id)
    findings = Findings()
    for name in sources.names():
        try:
            _ask(name, sources, snap, findings)
        except AimeError as error:  # one source failing leaves the others' findings intact
            findings.errors[name] = error.detail
    cover = _fetch_cover(config, sources, snap, findings)
    return run_write(_apply, album_id, findings, cover)


def _match(snap: Snapshot, candidates: list[Candidate]) -> MatchResult:
    return choose(snap.artist, snap.title, snap.year, snap.track_count, candidates)


def _record(name: str, result: MatchResult, findings: Findings) -> None:
    if result.is_ambiguous:
        findings.ambiguous[name] = [c.summary() for c in result.ambiguous]
    elif result.chosen is not None:
        findings.matches[name] = result.chosen.ref
        findings.offer(name, result.chosen.data)


def _ask(name: str, sources: Sources, snap: Snapshot, findings: Findings) -> None:
    if name == "musicbrainz":
        if snap.release_mbid is not None:  # the release is known (an import brought it): no search needed
            findings.matches[name] = snap.release_mbid
            _coverart(sources, findings, snap.release_mbid, "release")
            return
        group = snap.musicbrainz_release_group_id
        if group is None:
            candidates = sources.musicbrainz.search_release_groups(snap.artist, snap.title)
            result = _match(snap, candidates)
            if result.is_ambiguous:  # an album and a single of the same name: the album is meant
                albums = [c for c in result.ambiguous if c.data.get("primary_type") == "Album"]
                result = MatchResult(albums[0]) if len(albums) == 1 else result
            _record(name, result, findings)
            group = result.chosen.data["musicbrainz_release_group_id"] if result.chosen else None
        else:
            findings.matches[name] = group
        if group is not None:
            _coverart(sources, findings, group, "release-group")
    elif name == "discogs":
        if snap.discogs_id is not None:  # the user's own release: no guessing needed
            release = sources.discogs.release(snap.discogs_id)
            findings.matches[name] = f"release-{snap.discogs_id}"
            findings.offer(name, {"year": int(release.get("year") or 0) or None, "image_url": primary_image(release),
                                  "discogs_url": f"https://www.discogs.com/release/{snap.discogs_id}"})
        else:
            _record(name, _match(snap, sources.discogs.search_releases(snap.artist, snap.title)), findings)
    elif name == "spotify":
        _record(name, _match(snap, sources.spotify.search_albums(snap.artist, snap.title)), findings)
    elif name == "lastfm":
        found = sources.lastfm.album_info(snap.artist, snap.title)
        _record(name, _match(snap, [found] if found else []), findings)


def _coverart(sources: Sources, findings: Findings, mbid: str, kind: str) -> None:
    try:
        url = sources.coverart.front_url(mbid, kind)
    except AimeError as error:
        findings.errors["coverart"] = error.detail
    else:
        if url:
            findings.images.insert(0, ("coverart", url))


def _needs_cover(config: Config, snap: Snapshot) -> bool:
    if snap.cover_sha256 is None:
        return True
    if "image_url" in snap.user_fields and snap.image_url and snap.image_url != snap.cover_source_url:
        return True  # the user gave another picture
    return not any(covers.covers_dir(config).glob(f"{snap.cover_sha256}.*"))


def _fetch_cover(config: Config, sources: Sources, snap: Snapshot, findings: Findings) -> dict | None:
    if not _needs_cover(config, snap):
        return None
    offers = list(findings.images)
    if snap.image_url:  # typed by the user or brought by the Discogs sync: preferred to any guess
        offers.insert(0, ("image_url", snap.image_url))
    for source, url in offers:
        try:
            data, _declared = sources.images.fetch(url)
            stored = covers.store_image(config, data)
        except (AimeError, covers.BadImage) as error:
            findings.errors[f"cover:{source}"] = getattr(error, "detail", str(error))
            continue
        return {"source": source, "url": url, "image": stored}
    return None


def _apply(album_id: int, findings: Findings, cover: dict | None) -> dict:
    album = db.session.get(Album, album_id)
    if album is None:
        raise NotFound(f"Album {album_id} does not exist.")
    row = _row(album_id)
    user = set(row.user_fields or [])
    changes: dict[str, dict] = {}
    conflicts: dict[str, dict] = {}
    for name, (value, source) in findings.proposed.items():
        target = album if name in ALBUM_FIELDS or name == RELEASE_FIELD else row
        current = getattr(target, name)
        if name == RELEASE_FIELD and current not in (None, "") and current != value:
            # Read again here, so an id an import stored meanwhile is the one kept; the other is only reported.
            conflicts[name] = {"known": current, "found": value, "source": source}
        if name in user or current not in (None, ""):
            continue  # what the user typed, or what is already known, stays
        setattr(target, name, value)
        changes[name] = {"from": current, "to": value, "source": source}
    if cover is not None:
        image = cover["image"]
        changes["cover"] = {"from": row.cover_sha256, "to": image.sha256, "source": cover["source"]}
        row.cover_sha256, row.cover_ext, row.cover_mime = image.sha256, image.ext, image.mime
        row.cover_width, row.cover_height = image.width, image.height
        row.cover_source, row.cover_source_url, row.cover_fetched_at = cover["source"], cover["url"], int(time.time())
    row.enriched_at = int(time.time())
    row.status = _status(findings)
    row.report = {"changes": changes, "matches": findings.matches, "ambiguous": findings.ambiguous,
                  "errors": findings.errors, "conflicts": conflicts}
    db.session.flush()
    return {"album_id": album_id, "status": row.status, "enriched_at": row.enriched_at, **row.report}


def _status(findings: Findings) -> str:
    if findings.matches:
        return "matched"
    if findings.ambiguous:
        return "ambiguous"
    return "failed" if findings.errors else "not_found"


def _row(album_id: int) -> AlbumEnrichment:
    row = db.session.get(AlbumEnrichment, album_id)
    if row is None:
        row = AlbumEnrichment(album_id=album_id, user_fields=[])
        db.session.add(row)
    return row


def mark_user_fields(album_id: int, names) -> None:
    """Remember that the user set these album fields (inside the caller's write transaction)."""
    typed = {name for name in names if name in USER_FIELDS}
    if not typed:
        return
    row = _row(album_id)
    row.user_fields = sorted(set(row.user_fields or []) | typed)


def album_enrichment(album_id: int) -> dict:
    """The last enrichment of an album (status, report, cover, ids, user fields); NotFound for no album."""
    album = db.session.get(Album, album_id)
    if album is None:
        raise NotFound(f"Album {album_id} does not exist.")
    row = db.session.get(AlbumEnrichment, album_id)
    if row is None:
        return {"album_id": album_id, "status": None, "user_fields": [], "cover": None,
                "release_mbid": album.release_mbid, "musicbrainz_release_group_id": None}
    cover = None if row.cover_sha256 is None else {
        "sha256": row.cover_sha256, "mime": row.cover_mime, "width": row.cover_width, "height": row.cover_height,
        "source": row.cover_source, "fetched_at": row.cover_fetched_at}
    return {"album_id": album_id, "status": row.status, "enriched_at": row.enriched_at,
            "user_fields": list(row.user_fields or []), "cover": cover,
            "release_mbid": album.release_mbid,
            "musicbrainz_release_group_id": row.musicbrainz_release_group_id, **(row.report or {})}
