"""Maloja export: `{"maloja": {...}, "scrobbles": [{"time", "track": {"artists", "title", "album"}}]}`."""
from __future__ import annotations

from typing import BinaryIO
from collections.abc import Iterator

from .common import epoch, guarded, play, seconds
from .jsonstream import member_items
from .records import Malformed, Play


def parse_maloja(stream: BinaryIO) -> Iterator:
    """Each scrobble; the first listed artist is the track's artist (as Last.fm credits it)."""
    header: dict = {}
    for line, item in member_items(stream, "scrobbles", header):
        if not isinstance(item, dict) or not isinstance(item.get("track"), dict):
            yield Malformed(line, "scrobble has no track")
        else:
            yield guarded(line, _play, line, item)


def _play(line: int, item: dict) -> Play:
    track = item["track"]
    artists = track.get("artists") or []
    album = track.get("album") if isinstance(track.get("album"), dict) else {}
    return play(line, artists[0] if artists else None, track.get("title"),
                album.get("albumtitle") or album.get("name"), epoch(item.get("time")),
                # Maloja writes "client:<name>"; other formats (ListenBrainz' submission_client) the name alone.
                client=(item.get("origin") or "").removeprefix("client:")[:200] or None,
                duration_seconds=seconds(track.get("length")),
                listened_seconds=seconds(item.get("duration")))
