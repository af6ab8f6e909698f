"""Spotify: extended streaming history (`ts` = playback stop) and the basic account-data export (`endTime`)."""
from __future__ import annotations

from typing import BinaryIO
from collections.abc import Iterator

from .common import guarded, iso_instant, play, seconds, spotify_uri
from .jsonstream import top_level_items
from .records import Malformed, Play, Skipped

MIN_PLAY_MS = 30_000  # Last.fm/ListenBrainz rule: shorter plays are skips, not listens


def parse_extended(stream: BinaryIO) -> Iterator:
    """Streaming_History_Audio_*.json: music plays; podcasts, audiobooks and plays under 30 s are skipped."""
    for line, item in top_level_items(stream):
        if not isinstance(item, dict):
            yield Malformed(line, "entry is not an object")
        elif item.get("episode_name") or item.get("spotify_episode_uri"):
            yield Skipped(line, f"podcast episode ({str(item.get('episode_show_name') or '')[:80]}), not music")
        elif item.get("audiobook_title") or item.get("audiobook_uri"):
            yield Skipped(line, "audiobook, not music")
        elif not item.get("master_metadata_track_name"):
            yield Skipped(line, "no track metadata (not music)")
        else:
            yield _short(line, item.get("ms_played")) or guarded(line, _extended_play, line, item)


def _short(line: int, ms_played) -> Skipped | None:
    if isinstance(ms_played, (int, float)) and not isinstance(ms_played, bool) and ms_played < MIN_PLAY_MS:
        return Skipped(line, f"played {ms_played / 1000:.0f} s, under 30 s (a skip)")
    return None


def _duration(ms_played) -> int:
    if not isinstance(ms_played, (int, float)) or isinstance(ms_played, bool):
        raise TypeError("ms_played is not a number")
    return round(ms_played / 1000)


def _extended_play(line: int, item: dict) -> Play:
    stopped = iso_instant(item.get("ts"), "ts")
    listened = _duration(item.get("ms_played"))
    return play(line, item.get("master_metadata_album_artist_name"), item.get("master_metadata_track_name"),
                item.get("master_metadata_album_album_name"), stopped - listened,
                listened_seconds=seconds(listened), spotify_uri=spotify_uri(item.get("spotify_track_uri")))


def parse_basic(stream: BinaryIO) -> Iterator:
    """StreamingHistory_music_*.json: `endTime` (UTC, minute precision) minus `msPlayed`; no album."""
    for line, item in top_level_items(stream):
        if not isinstance(item, dict):
            yield Malformed(line, "entry is not an object")
        elif item.get("episodeName") or item.get("podcastName"):
            yield Skipped(line, "podcast episode, not music")
        else:
            yield _short(line, item.get("msPlayed")) or guarded(line, _basic_play, line, item)


def _basic_play(line: int, item: dict) -> Play:
    ended = iso_instant(item.get("endTime"), "endTime")
    listened = _duration(item.get("msPlayed"))
    return play(line, item.get("artistName"), item.get("trackName"), None, ended - listened,
                listened_seconds=seconds(listened))
