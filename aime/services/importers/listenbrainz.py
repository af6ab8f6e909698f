"""ListenBrainz exports: the zip (`listens/YYYY/M.jsonl`, `feedback.jsonl`) and the older JSON array."""
from __future__ import annotations

import re
import zipfile
import zlib
from typing import BinaryIO
from collections.abc import Iterator

from .common import RowError, epoch, guarded, mbid, play, seconds, spotify_uri
from .jsonstream import top_level_items
from .records import FatalFormatError, Malformed, Play
from .zipsafe import open_zip

_LISTENS_MEMBER = re.compile(r"^(?:[^/]+/)?listens/(\d{4})/(\d{1,2})\.jsonl$")


def listen_play(line: int, item: dict, loved_ids: frozenset = frozenset()) -> Play:
    """A ListenBrainz listen object as a Play (loved when its recording has feedback score 1)."""
    meta = item.get("track_metadata")
    if not isinstance(meta, dict):
        raise RowError("track_metadata is missing")
    info = meta.get("additional_info") if isinstance(meta.get("additional_info"), dict) else {}
    ids = {meta.get("recording_msid"), info.get("recording_msid"), info.get("recording_mbid"),
           (item.get("recording_msid"))}
    client = info.get("submission_client") or info.get("media_player")
    mapping = meta.get("mbid_mapping") if isinstance(meta.get("mbid_mapping"), dict) else {}
    return play(line, meta.get("artist_name"), meta.get("track_name"), meta.get("release_name"),
                epoch(item.get("listened_at"), "listened_at"), loved=bool(ids & loved_ids),
                client=client[:200] if isinstance(client, str) else None,
                duration_seconds=seconds(info.get("duration_ms"), 1000) or seconds(info.get("duration")),
                recording_mbid=mbid(info.get("recording_mbid")) or mbid(mapping.get("recording_mbid")),
                release_mbid=mbid(info.get("release_mbid")) or mbid(mapping.get("release_mbid")),
                artist_mbid=mbid(info.get("artist_mbids")) or mbid(mapping.get("artist_mbids")),
                spotify_uri=spotify_uri(info.get("spotify_id")),
                listened_seconds=seconds(info.get("listened_seconds")))  # AIME's own exports write it


def parse_json(stream: BinaryIO) -> Iterator:
    """The older export: one JSON array of listens (JSON Lines accepted too)."""
    for line, item in top_level_items(stream):
        if not isinstance(item, dict):
            yield Malformed(line, "listen is not an object")
        else:
            yield guarded(line, listen_play, line, item)


def _member_order(name: str) -> tuple[int, int]:
    match = _LISTENS_MEMBER.match(name)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def parse_zip(stream: BinaryIO) -> Iterator:
    """The zip export, read member by member without extracting anything to disk."""
    try:
        yield from _read_zip(stream)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as error:
        # Damaged or encrypted archives: what was read so far is kept, the rest is reported.
        raise FatalFormatError(0, f"zip damaged or unreadable: {str(error)[:200]}") from None


def _read_zip(stream: BinaryIO) -> Iterator:
    archive = open_zip(stream)  # every limit checked before anything is read (see zipsafe)
    with archive:
        names = archive.namelist()
        loved = _loved_ids(archive, [n for n in names if n.rsplit("/", 1)[-1] == "feedback.jsonl"])
        for name in sorted((n for n in names if _LISTENS_MEMBER.match(n)), key=_member_order):
            with archive.open(name) as member:
                for line, item in top_level_items(member):
                    if not isinstance(item, dict):
                        yield Malformed(line, f"{name}: listen is not an object")
                        continue
                    result = guarded(line, listen_play, line, item, loved)
                    if isinstance(result, Malformed):
                        result.error = f"{name}: {result.error}"
                    yield result


def _loved_ids(archive: zipfile.ZipFile, names: list[str]) -> frozenset:
    loved = set()
    for name in names:
        with archive.open(name) as member:
            for _line, item in top_level_items(member):
                if isinstance(item, dict) and item.get("score") == 1:
                    loved.update(v for v in (item.get("recording_msid"), item.get("recording_mbid")) if v)
    return frozenset(loved)
