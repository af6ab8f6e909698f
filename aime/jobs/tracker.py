"""Last.fm tracker: polls every scrobble since the last one seen and stores each with its own time.

State (service_states "tracker"): last_uts, the newest scrobble stored; it is saved after each page,
oldest page first, so a restart (or a crash half-way) resumes exactly where it stopped. The full
history import keeps its progress in "lastfm-history".
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from flask import Flask
from sqlalchemy import insert, select

from ..config import Config, config_of
from ..database import run_write
from ..errors import AimeError
from ..extensions import db
from ..integrations.lastfm import LastfmClient, Scrobble, require_config
from ..models import Artist, Listen, Track
from ..text import normalise
from ..timeutil import iso, to_epoch, utcnow
from ..services import rollups
from ..services.catalog import get_or_create_album, get_or_create_artist, get_or_create_track
from ..services.sql_lists import one_of
from .runtime import BackgroundService, failure_recorded, read_state, update_state

log = logging.getLogger(__name__)
NAME = "tracker"
HISTORY = "lastfm-history"
SOURCE = "lastfm"


class LastfmTracker(BackgroundService):
    """The background service: one poll per tick while this process holds the lease."""

    name = NAME

    def __init__(self, interval: float):
        self.interval = interval

    def require_config(self, config: Config) -> None:
        """Raise NotConfigured when Last.fm credentials are missing."""
        require_config(config)

    def extra_state(self) -> dict:
        """The history import's progress, shown with the tracker's status (kept in its own row)."""
        return {"history_import": history_progress()}

    def tick(self, app: Flask) -> None:
        """Poll once; an unreachable or misbehaving Last.fm is recorded in the state, not raised."""
        config: Config = config_of(app)
        try:
            poll(config)
        except AimeError as error:
            log.warning("tracker poll failed: %s", error.detail)
            update_state(NAME, last_error=error.detail, last_error_at=iso(to_epoch(utcnow())))


def client_for(config: Config) -> LastfmClient:
    """The Last.fm client for the configured account."""
    return LastfmClient.from_config(config, timeout=config.http_timeout_seconds)


def poll(config: Config, client: LastfmClient | None = None) -> dict:
    """Fetch and store every scrobble newer than the last one seen; returns what this poll did."""
    client = client or client_for(config)
    last = read_state(NAME).get("last_uts")
    until = to_epoch(utcnow())
    since = int(last) + 1 if last is not None else None
    first = client.recent_tracks(1, since=since, until=until)
    # Without a last seen scrobble only the newest page is taken: the past is the history import's job.
    pages = range(first.total_pages, 0, -1) if since is not None else [1]
    stored = duplicates = 0
    for number in pages:  # oldest page first, so last_uts only ever moves forward
        page = first if number == 1 else client.recent_tracks(number, since=since, until=until)
        added, dup = store_scrobbles(config, page.scrobbles)
        stored, duplicates = stored + added, duplicates + dup
        newest = max((s.played_at for s in page.scrobbles), default=None)
        if newest is not None and (last is None or newest > int(last)):
            update_state(NAME, last_uts=newest, last_seen_at=iso(newest))
            last = newest
    result = {"stored": stored, "duplicates": duplicates, "pages": len(pages)}
    state = read_state(NAME)
    update_state(NAME, last_poll_at=iso(until), last_error=None, polls=int(state.get("polls", 0)) + 1,
                 stored_total=int(state.get("stored_total", 0)) + stored, last_result=result)
    return result


def store_scrobbles(config: Config, scrobbles: Iterable[Scrobble], source: str = SOURCE) -> tuple[int, int]:
    """Insert a batch of plays in one transaction, skipping duplicates; returns (inserted, duplicates)."""
    batch = sorted(scrobbles, key=lambda s: s.played_at)
    if not batch:
        return 0, 0
    return run_write(_store, batch, config.dedup_window_seconds, source)


def _key(scrobble: Scrobble) -> tuple[str, str]:
    return normalise(scrobble.artist), normalise(scrobble.title)


def _store(batch: list[Scrobble], window: int, source: str) -> tuple[int, int]:
    # The duplicate rule of every ingestion path: same normalised artist + title within the window,
    # whatever the album. Checked set-wise: one query for the whole batch, then in memory.
    keys = {_key(s) for s in batch}
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    rows = db.session.execute(
        select(Artist.name_key, Track.title_key, Listen.played_at)
        .join(Track, Track.id == Listen.track_id).join(Artist, Artist.id == Track.artist_id)
        .where(Listen.played_at.between(batch[0].played_at - window, batch[-1].played_at + window),
               one_of(Artist.name_key, {k[0] for k in keys}), one_of(Track.title_key, {k[1] for k in keys})))
    for artist_key, title_key, played_at in rows:
        seen[(artist_key, title_key)].append(played_at)
    fresh, duplicates = [], 0
    for scrobble in batch:
        times = seen[_key(scrobble)]
        if any(abs(t - scrobble.played_at) <= window for t in times):
            duplicates += 1
            continue
        times.append(scrobble.played_at)
        fresh.append(scrobble)
    tracks: dict = {}  # per transaction: ids from a rolled-back attempt must not be reused
    values = [{"track_id": _track_id(s, source, tracks), "played_at": s.played_at, "source": source,
               "client": "last.fm"} for s in fresh]
    if values:
        db.session.execute(insert(Listen), values)
        rollups.listens_added(db.session, [(v["track_id"], v["played_at"]) for v in values])
    return len(values), duplicates


def _track_id(scrobble: Scrobble, source: str, cache: dict) -> int:
    key = (*_key(scrobble), normalise(scrobble.album))
    if key not in cache:
        artist = get_or_create_artist(scrobble.artist)
        album = get_or_create_album(scrobble.album, artist, source=source) if scrobble.album else None
        cache[key] = get_or_create_track(scrobble.title, artist, album).id
    return cache[key]


# --- full history import ------------------------------------------------------------------------------

def history_progress() -> dict:
    """Progress of the full history import (empty before the first one)."""
    return read_state(HISTORY)


def import_history(config: Config, client: LastfmClient | None = None, on_page=None) -> dict:
    """Import every scrobble of the account, oldest page first, recording progress after each page."""
    client = client or client_for(config)
    until = to_epoch(utcnow())
    update_state(HISTORY, status="running", started_at=iso(until), finished_at=None, error=None,
                 page=0, pages=None, processed=0, imported=0, duplicates=0)
    with failure_recorded(HISTORY):
        first = client.recent_tracks(1, until=until)
        processed = imported = duplicates = 0
        for done, number in enumerate(range(first.total_pages, 0, -1), start=1):
            page = first if number == 1 else client.recent_tracks(number, until=until)
            added, dup = store_scrobbles(config, page.scrobbles)
            processed, imported, duplicates = processed + len(page.scrobbles), imported + added, duplicates + dup
            update_state(HISTORY, page=done, pages=first.total_pages, total=first.total, processed=processed,
                         imported=imported, duplicates=duplicates, heartbeat=to_epoch(utcnow()))
            if on_page is not None:
                on_page(history_progress())
    update_state(HISTORY, status="done", finished_at=iso(to_epoch(utcnow())))
    return history_progress()
