"""Playlist files: extended M3U, XSPF (v1), JSON, CSV and plain text."""
from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath
from urllib.parse import quote, quote_plus

from ..config import Config
from ..timeutil import iso
from .playlists import get_playlist
from .safe_text import csv_cell, one_line

XSPF_NS = "http://xspf.org/ns/0/"
SEARCH_URL = "https://musicbrainz.org/search?type=recording&query="
FIELDS = ("position", "track_id", "artist", "title", "album", "track_number", "duration_seconds", "location")
MIMETYPES = {"m3u": "audio/x-mpegurl", "xspf": "application/xspf+xml", "json": "application/json",
             "csv": "text/csv", "txt": "text/plain"}
# XML 1.0 forbids most control characters even when escaped.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _path_part(text: str) -> str:
    return re.sub(r'[/\\\x00-\x1f]', "_", text).strip() or "_"


def location(config: Config, entry: dict) -> str:
    """Where a player finds the track: <library>/<Artist>/<Album>/<NN - Title>.mp3, else a search URL."""
    if config.music_library_path:
        number = f"{entry['track_number']:02d} - " if entry.get("track_number") is not None else ""
        name = f"{number}{_path_part(entry['title'])}.mp3"
        return str(PurePosixPath(config.music_library_path, _path_part(entry["artist"]),
                                 _path_part(entry["album"] or "Unknown album"), name))
    return SEARCH_URL + quote_plus(f"{entry['artist']} {entry['title']}")


def _one_line(text: str | None) -> str:
    return one_line(text)


def to_m3u(playlist: dict) -> str:
    """Extended M3U: #EXTM3U, then #EXTINF:<seconds>,<artist> - <title> and a location per track."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(playlist['name'])}"]
    for entry in playlist["tracks"]:
        seconds = entry["duration_seconds"] if entry["duration_seconds"] is not None else -1
        lines.append(f"#EXTINF:{seconds},{_one_line(entry['artist'])} - {_one_line(entry['title'])}")
        lines.append(_one_line(entry["location"]))
    return "\n".join(lines) + "\n"


def _uri(text: str) -> str:
    if text.startswith(("http://", "https://")):
        return text
    return "file://" + quote(text if text.startswith("/") else "/" + text)


def _add(parent: ET.Element, tag: str, value) -> None:
    if value is not None and value != "":
        ET.SubElement(parent, f"{{{XSPF_NS}}}{tag}").text = _XML_BAD.sub("", str(value))


def to_xspf(playlist: dict) -> str:
    """XSPF version 1, children in the order the schema requires."""
    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", {"version": "1"})
    _add(root, "title", playlist["name"])
    _add(root, "creator", "AIME")
    _add(root, "date", iso(playlist["created_at"]))
    track_list = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    for entry in playlist["tracks"]:
        track = ET.SubElement(track_list, f"{{{XSPF_NS}}}track")
        _add(track, "location", _uri(entry["location"]))
        _add(track, "title", entry["title"])
        _add(track, "creator", entry["artist"])
        _add(track, "album", entry["album"])
        if entry["track_number"] is not None and entry["track_number"] > 0:
            _add(track, "trackNum", entry["track_number"])
        if entry["duration_seconds"] is not None:
            _add(track, "duration", entry["duration_seconds"] * 1000)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def to_json(playlist: dict) -> str:
    """The playlist and its tracks (same fields as the CSV) as JSON."""
    body = {"id": playlist["id"], "name": playlist["name"], "algorithm": playlist["algorithm"],
            "created_at": iso(playlist["created_at"]),
            "tracks": [{key: entry[key] for key in FIELDS} for entry in playlist["tracks"]]}
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def to_csv(playlist: dict) -> str:
    """One row per track, quoted by the csv module."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in entry.items()} for entry in playlist["tracks"])
    return out.getvalue()


def _clock(seconds: int | None) -> str:
    return f" ({seconds // 60}:{seconds % 60:02d})" if seconds is not None else ""


def to_txt(playlist: dict) -> str:
    """A numbered list for reading."""
    lines = [_one_line(playlist["name"]), ""]
    lines += [f"{e['position']}. {_one_line(e['artist'])} - {_one_line(e['title'])}{_clock(e['duration_seconds'])}"
              for e in playlist["tracks"]]
    return "\n".join(lines) + "\n"


WRITERS = {"m3u": to_m3u, "xspf": to_xspf, "json": to_json, "csv": to_csv, "txt": to_txt}


def export_playlist(config: Config, playlist_id: int, fmt: str) -> tuple[str, str, str]:
    """(body, mimetype, file name) of a playlist in the given format (404 if unknown)."""
    playlist = get_playlist(playlist_id)
    for entry in playlist["tracks"]:
        entry["location"] = location(config, entry)
    stem = re.sub(r"[^\w\-]+", "-", playlist["name"]).strip("-")[:80] or f"playlist-{playlist_id}"
    return WRITERS[fmt](playlist), MIMETYPES[fmt], f"{stem}.{fmt}"
