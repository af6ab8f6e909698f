"""Helpers shared by the parsers: dates, text fields, turning a dict into a Play."""
from __future__ import annotations

import calendar
import re
from datetime import datetime, UTC
from typing import Any

from .records import Malformed, Play

MONTHS = {name: number for number, name in enumerate(calendar.month_abbr) if name}
MIN_EPOCH = 0
MAX_EPOCH = 7258118400  # 2200-01-01: anything later is a broken date, not a play
_day_cache: dict[str, int] = {}
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: no database stores them


class RowError(ValueError):
    """A field of a row is missing or unreadable; the message says which."""


def text(value: Any, what: str, *, required: bool = True, limit: int = 500) -> str | None:
    """A trimmed text field (None when empty and optional); too long or wrong type is an error."""
    if value is None or value == "":
        if required:
            raise RowError(f"{what} is missing")
        return None
    if not isinstance(value, str):
        raise RowError(f"{what} is not text")
    value = value.strip()
    if not value:
        if required:
            raise RowError(f"{what} is missing")
        return None
    if len(value) > limit:
        raise RowError(f"{what} is longer than {limit} characters")
    return value


def epoch(value: Any, what: str = "time") -> int:
    """A plausible UTC epoch-seconds instant from an int or numeric string."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) < 12:  # common case, cheaply
        moment = int(value)
        if MIN_EPOCH < moment < MAX_EPOCH:
            return moment
    try:
        moment = int(float(value)) if isinstance(value, (str, float)) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise RowError(f"{what} {str(value)[:40]!r} is not a timestamp") from None
    if isinstance(value, bool) or not MIN_EPOCH < moment < MAX_EPOCH:
        raise RowError(f"{what} {str(value)[:40]!r} is out of range")
    return moment


def lastfm_date(value: str) -> int:
    """'14 Nov 2023 12:05' or '14 Nov 2023, 12:05' (UTC) to epoch seconds; days are cached (hot path)."""
    day, _, clock = value.strip().rpartition(" ")
    base = _day_cache.get(day)
    if base is None:
        try:
            d, m, y = day.replace(",", "").split()
            base = int(datetime(int(y), MONTHS[m.title()], int(d), tzinfo=UTC).timestamp())
        except (ValueError, KeyError):
            raise RowError(f"date {value[:40]!r} is not like '14 Nov 2023 12:05'") from None
        if len(_day_cache) > 100_000:
            _day_cache.clear()
        _day_cache[day] = base
    hours, _, minutes = clock.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise RowError(f"date {value[:40]!r} is not like '14 Nov 2023 12:05'")
    return base + int(hours) * 3600 + int(minutes) * 60


def iso_instant(value: Any, what: str) -> int:
    """An ISO 8601 instant ('2023-11-10T21:07:31Z', or naive '2023-11-10 21:04' taken as UTC)."""
    if not isinstance(value, str):
        raise RowError(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RowError(f"{what} {value[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return epoch(moment.timestamp(), what)


_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SPOTIFY_TRACK = re.compile(r"^(?:spotify:track:|https?://open\.spotify\.com/(?:intl-[a-z-]+/)?track/)([0-9A-Za-z]{22})")


def mbid(value: Any) -> str | None:
    """A MusicBrainz id (UUID, lower case), or None for anything else: an optional detail never rejects a row."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        value = value.strip().lower()
        if _MBID.match(value):
            return value
    return None


def spotify_uri(value: Any) -> str | None:
    """'spotify:track:<id>' from a Spotify track URI or open.spotify.com URL, else None."""
    match = _SPOTIFY_TRACK.match(value.strip()) if isinstance(value, str) else None
    return f"spotify:track:{match.group(1)}" if match else None


def seconds(value: Any, scale: float = 1.0) -> int | None:
    """A plausible length in whole seconds (value / scale), else None (absent, zero, negative, over a day)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return None
    result = round(value / scale)
    return result if 0 < result <= 86_400 else None


def play(line: int, artist: Any, title: Any, album: Any, played_at: int, **extra) -> Play:
    """A validated Play (RowError names the bad field)."""
    result = _play(line, artist, title, album, played_at, **extra)
    # NUL and lone surrogates (possible through JSON escapes) are refused by the database drivers.
    if UNSTORABLE.search(result.artist) or UNSTORABLE.search(result.title) or (
            result.album and UNSTORABLE.search(result.album)):
        raise RowError("a name contains a NUL character or an invalid (surrogate) code point")
    return result


def _play(line: int, artist: Any, title: Any, album: Any, played_at: int, **extra) -> Play:
    # Hot path (a million rows): plain strings skip the general checks.
    if type(artist) is str and type(title) is str and (album is None or type(album) is str):
        artist, title, album = artist.strip(), title.strip(), album.strip() if album else None
        if artist and title and len(artist) <= 500 and len(title) <= 500 and (album is None or len(album) <= 500):
            return Play(line, artist, title, album or None, played_at, **extra)
    return Play(line, text(artist, "artist"), text(title, "title"), text(album, "album", required=False),
                played_at, **extra)


def guarded(line: int, build, *args) -> Play | Malformed:
    """build(*args), or a Malformed naming why the row is unusable."""
    try:
        return build(*args)
    except RowError as error:
        return Malformed(line, str(error))
    except (AttributeError, TypeError, KeyError, IndexError) as error:
        return Malformed(line, f"unexpected structure ({type(error).__name__}: {str(error)[:80]})")
