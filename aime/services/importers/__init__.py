"""File importers: formats detected from content, one parser per format family, one streaming pipeline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO
from collections.abc import Callable, Iterator

from ...errors import InvalidInput
from . import discogs, lastfm, listenbrainz, maloja, spotify
from .detect import detect


@dataclass(frozen=True)
class Format:
    """A known file format: name, what it holds (listens or collection), and its parser.

    `parse_known(stream, known)`, for the formats that have it: the same records, except that rows which are plays
    already stored (`pipeline.KnownPlays`) come as KnownRows, without building their Play (a re-import).
    """

    name: str
    kind: str
    description: str
    parse: Callable[[BinaryIO], Iterator]
    parse_known: Callable[[BinaryIO, object], Iterator] | None = None


FORMATS = {f.name: f for f in (
    Format("lastfm-csv", "listens", "Last.fm CSV from lastfm-to-csv (artist,album,track,date; no header)",
           lastfm.parse_lastfm_csv),
    Format("lastfm-ghan-csv", "listens", "Last.fm CSV from lastfm.ghan.nl (uts,utc_time,artist,...)",
           lastfm.parse_ghan_csv, lastfm.parse_ghan_csv),
    Format("lastfm-json", "listens", "Last.fm JSON pages from lastfm.ghan.nl", lastfm.parse_ghan_json),
    Format("spotify-extended", "listens", "Spotify extended streaming history (Streaming_History_Audio_*.json)",
           spotify.parse_extended),
    Format("spotify-basic", "listens", "Spotify account data (StreamingHistory_music_*.json)", spotify.parse_basic),
    Format("listenbrainz-zip", "listens", "ListenBrainz export zip (listens/YYYY/M.jsonl, feedback.jsonl)",
           listenbrainz.parse_zip),
    Format("listenbrainz-json", "listens", "ListenBrainz JSON export (array of listens)", listenbrainz.parse_json),
    Format("maloja", "listens", "Maloja export (JSON with scrobbles)", maloja.parse_maloja),
    Format("discogs-csv", "collection", "Discogs collection CSV export", discogs.parse_collection),
)}


def format_list() -> str:
    """The known formats, for error messages and --help."""
    return "; ".join(f"{f.name} ({f.description})" for f in FORMATS.values())


def resolve_format(stream: BinaryIO, requested: str | None) -> Format:
    """The requested format, or the detected one; InvalidInput listing the formats otherwise."""
    if requested:
        if requested not in FORMATS:
            raise InvalidInput(f"Unknown format {requested!r}. Known formats: {format_list()}.",
                               errors={"format": [f"must be one of {', '.join(FORMATS)}"]})
        return FORMATS[requested]
    name = detect(stream)
    if name is None:
        raise InvalidInput(f"This file is not in any known format. Known formats: {format_list()}.",
                           errors={"file": ["format not recognised"]})
    return FORMATS[name]
