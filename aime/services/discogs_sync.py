"""Discogs sync: the user's collection (folder 0) into AIME's collection; removals reported, not deleted.

Run by the background service aime.jobs.discogs, the API and the CLI.

State (service_states "discogs"): status (running/done/failed), page/pages, processed, added, updated,
unchanged, removed (releases no longer on Discogs but still in AIME's collection), times, error.
"""
from __future__ import annotations


from sqlalchemy import select

from ..config import Config
from ..database import run_write
from ..extensions import db
from ..integrations.discogs import DiscogsClient, Release
from ..jobs.runtime import failure_recorded, read_state, update_state
from ..models import Album, AlbumArtist
from ..text import normalise
from ..timeutil import iso, to_epoch, utcnow
from .catalog import find_album, get_or_create_artist

NAME = "discogs"
SOURCE = "discogs"
FIELDS = ("year", "labels", "catalog_number", "support", "genre", "image_url", "discogs_url")


def progress() -> dict:
    """The running or last sync's progress (empty before the first one)."""
    return read_state(NAME)


def sync(config: Config, client: DiscogsClient | None = None, on_page=None) -> dict:
    """Walk every page of folder 0: add new releases, update changed ones, report removed ones."""
    client = client or DiscogsClient.from_config(config, timeout=config.http_timeout_seconds)
    counts = {"processed": 0, "added": 0, "updated": 0, "unchanged": 0}
    update_state(NAME, status="running", started_at=iso(to_epoch(utcnow())), finished_at=None, error=None,
                 page=0, pages=None, total=None, removed=[], removed_count=0, **counts)
    seen: set[int] = set()
    with failure_recorded(NAME):
        page_number, pages = 1, 1
        while page_number <= pages:
            page = client.collection_page(page_number)
            pages = page.pages
            for key, value in run_write(_apply_page, page.releases).items():
                counts[key] += value
            seen.update(r.discogs_id for r in page.releases)
            update_state(NAME, page=page_number, pages=pages, total=page.items,
                         heartbeat=to_epoch(utcnow()), **counts)
            if on_page is not None:
                on_page(progress())
            page_number += 1
    removed = _removed(seen)
    finished = to_epoch(utcnow())
    update_state(NAME, status="done", finished_at=iso(finished), finished_epoch=finished, removed=removed,
                 removed_count=len(removed))
    return progress()


def _apply_page(releases: list[Release]) -> dict:
    counts = {"processed": 0, "added": 0, "updated": 0, "unchanged": 0}
    for release in releases:
        counts["processed"] += 1
        counts[_apply(release)] += 1
    return counts


def _apply(release: Release) -> str:
    album = db.session.scalar(select(Album).where(Album.discogs_id == release.discogs_id))
    artist = get_or_create_artist(release.artists[0])
    if album is None:
        # A record heard before it was bought already exists (same title + primary artist): adopt it.
        album = find_album(release.title, artist)
        if album is not None and album.discogs_id is not None:
            return "unchanged"  # another pressing of a record already linked: one album row per record
        if album is None:
            album = Album(title=release.title, title_key=normalise(release.title), primary_artist_id=artist.id,
                          source=SOURCE, in_collection=True, labels=[], discogs_id=release.discogs_id)
            album.album_artists = _credits(release)
            db.session.add(album)
        album.discogs_id, album.in_collection = release.discogs_id, True
        _set_fields(album, release)
        db.session.flush()
        return "added"
    changed = _set_fields(album, release)
    if not album.in_collection:
        album.in_collection, changed = True, True
    if normalise(release.title) != album.title_key and find_album(release.title, artist) is None:
        album.title, album.title_key, album.primary_artist_id, changed = (
            release.title, normalise(release.title), artist.id, True)
    db.session.flush()
    return "updated" if changed else "unchanged"


def _credits(release: Release) -> list[AlbumArtist]:
    credits, ids = [], set()
    for name in release.artists:
        artist = get_or_create_artist(name)
        if artist.id not in ids:
            ids.add(artist.id)
            credits.append(AlbumArtist(artist=artist, position=len(credits)))
    return credits


def _set_fields(album: Album, release: Release) -> bool:
    wanted = {"year": release.year, "labels": release.labels, "catalog_number": release.catalog_number,
              "support": release.support, "genre": release.genre, "image_url": release.image_url,
              "discogs_url": f"https://www.discogs.com/release/{release.discogs_id}"}
    changed = False
    for name in FIELDS:
        value = wanted[name]
        # Discogs not knowing something (year 0, no genre) never erases what AIME knows.
        if value in (None, []) or getattr(album, name) == value:
            continue
        setattr(album, name, value)
        changed = True
    return changed


def _removed(seen: set[int]) -> list[dict]:
    rows = db.session.execute(select(Album.id, Album.title, Album.discogs_id)
                              .where(Album.in_collection.is_(True), Album.discogs_id.is_not(None))
                              .order_by(Album.discogs_id)).all()
    return [{"album_id": r.id, "title": r.title, "discogs_id": r.discogs_id} for r in rows if r.discogs_id not in seen]
