"""Which format a file is, from its content (never its name)."""
from __future__ import annotations

import csv
import re
import zipfile
from typing import BinaryIO

from ...errors import InvalidInput
from .common import RowError, lastfm_date
from .records import FatalFormatError
from .zipsafe import check_directory_size
from .textio import decode_line

HEAD_BYTES = 64 * 1024
_KEY = re.compile(r'"([A-Za-z_#@]+)"\s*:')


def detect(stream: BinaryIO) -> str | None:
    """The format name of a seekable stream, or None; the stream is rewound."""
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    if head.startswith(b"PK\x03\x04"):
        return _zip_format(stream)
    text = decode_line(head[3:] if head.startswith(b"\xef\xbb\xbf") else head).lstrip()
    if text[:1] in ("[", "{"):
        return _json_format(text)
    return _csv_format(text)


def _zip_format(stream: BinaryIO) -> str | None:
    try:
        check_directory_size(stream)  # from the end record alone: a huge directory is never listed in the request
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
    except FatalFormatError as error:
        if error.message.startswith("zip refused"):
            raise InvalidInput(error.message[:1].upper() + error.message[1:] + ".",
                               errors={"file": [error.message]}) from None
        return None
    except (zipfile.BadZipFile, OSError):
        return None
    finally:
        stream.seek(0)
    return "listenbrainz-zip" if any("listens/" in name and name.endswith(".jsonl") for name in names) else None


def _json_format(text: str) -> str | None:
    keys = set(_KEY.findall(text))
    if "scrobbles" in keys or "maloja" in keys:
        return "maloja"
    if {"ts", "ms_played"} <= keys:
        return "spotify-extended"
    if {"endTime", "msPlayed"} <= keys:
        return "spotify-basic"
    if {"listened_at", "track_metadata"} <= keys:
        return "listenbrainz-json"
    if "track" in keys and ("uts" in keys or "recenttracks" in keys):
        return "lastfm-json"
    return None


def _csv_format(text: str) -> str | None:
    first_line = text.split("\n", 1)[0]
    try:
        row = next(csv.reader([first_line]))
    except (csv.Error, StopIteration):
        return None
    names = {cell.strip().lower() for cell in row}
    if {"uts", "artist", "track"} <= names:
        return "lastfm-ghan-csv"
    if {"release_id", "artist", "title"} <= names:
        return "discogs-csv"
    if len(row) == 4:
        try:
            lastfm_date(row[3])
        except RowError:
            return None
        return "lastfm-csv"
    return None
