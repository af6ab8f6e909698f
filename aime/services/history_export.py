"""The listening history out: a ListenBrainz export zip, ListenBrainz JSON Lines, or a lastfm.ghan.nl CSV.

Everything streams: listens are read in keyset pages (bounded memory whatever the history's size) and each
format yields bytes as it goes, so the same generators feed an HTTP response, a file (CLI) and the scheduled
task. Each format imports back into AIME (listenbrainz-zip, listenbrainz-json, lastfm-ghan-csv) with nothing
lost that the format can carry; the zip carries everything AIME knows of a play.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, UTC
from functools import lru_cache
from pathlib import Path
from collections.abc import Iterator

from sqlalchemy import and_, or_, select

from ..config import Config
from ..extensions import db
from ..models import Album, Artist, Listen, Track
from .stats import period

FORMATS = {"listenbrainz": ("zip", "application/zip"), "jsonl": ("jsonl", "application/x-ndjson"),
           "csv": ("csv", "text/csv; charset=utf-8")}
PAGE = 5000  # listens per query: memory stays flat whatever the history's size
USER = "aime"
GHAN_HEADER = ["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"]
_MSID_NAMESPACE = uuid.UUID("6f1c1b4e-8d6a-4a8e-9a41-61696d650001")  # AIME's own: ids stable across exports


@dataclass(frozen=True, slots=True)
class Row:
    """One play with everything AIME knows about it."""

    id: int
    played_at: int
    artist: str
    title: str
    album: str | None
    loved: bool
    duration_seconds: int | None
    listened_seconds: int | None
    recording_mbid: str | None
    release_mbid: str | None
    artist_mbid: str | None
    spotify_uri: str | None
    client: str | None
    source: str


def filename(fmt: str, now: float | None = None) -> str:
    """aime-history-YYYYmmdd-HHMMSS.<ext> (UTC)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"aime-history-{stamp}.{FORMATS[fmt][0]}"


def rows(lo: int | None = None, hi: int | None = None, *, newest_first: bool = False) -> Iterator[Row]:
    """Every play in [lo, hi) in time order, read PAGE at a time by (played_at, id)."""
    query = (select(Listen.id, Listen.played_at, Artist.name, Track.title, Album.title, Track.loved,
                    Track.duration_seconds, Listen.listened_seconds, Track.recording_mbid, Album.release_mbid,
                    Artist.artist_mbid, Track.spotify_uri, Listen.client, Listen.source)
             .join(Track, Track.id == Listen.track_id).join(Artist, Artist.id == Track.artist_id)
             .outerjoin(Album, Album.id == Track.album_id))
    if lo is not None:
        query = query.where(Listen.played_at >= lo)
    if hi is not None:
        query = query.where(Listen.played_at < hi)
    order = (Listen.played_at.desc(), Listen.id.desc()) if newest_first else (Listen.played_at, Listen.id)
    after: tuple[int, int] | None = None
    while True:
        page = query
        if after is not None:
            at, last = after
            # The plain range first, so the database seeks the (played_at, track_id) index instead of scanning
            # from the start on every page (an OR alone defeats the index: quadratic over a million plays).
            page = page.where(and_(Listen.played_at <= at, or_(Listen.played_at < at, Listen.id < last))
                              if newest_first else
                              and_(Listen.played_at >= at, or_(Listen.played_at > at, Listen.id > last)))
        found = db.session.execute(page.order_by(*order).limit(PAGE)).all()
        db.session.rollback()  # no read transaction held open between pages (SQLite WAL checkpoints)
        for found_row in found:
            yield Row(*found_row)
        if len(found) < PAGE:
            return
        after = (found[-1][1], found[-1][0])


def msid(row: Row) -> str:
    """A stable recording id for feedback: AIME's tracks have no ListenBrainz MSID of their own."""
    return _msid(row.artist, row.title)


@lru_cache(maxsize=20_000)  # uuid5 per play was a quarter of the zip's cost; bounded, popular songs stay
def _msid(artist: str, title: str) -> str:
    return str(uuid.uuid5(_MSID_NAMESPACE, f"{artist.casefold()}\n{title.casefold()}"))


def listen_document(row: Row) -> dict:
    """A play as a ListenBrainz listen (what its exports and submit-listens hold)."""
    info: dict = {}
    if row.duration_seconds:
        info["duration_ms"] = row.duration_seconds * 1000
    if row.recording_mbid:
        info["recording_mbid"] = row.recording_mbid
    if row.release_mbid:
        info["release_mbid"] = row.release_mbid
    if row.artist_mbid:
        info["artist_mbids"] = [row.artist_mbid]
    if row.spotify_uri:
        info["spotify_id"] = "https://open.spotify.com/track/" + row.spotify_uri.rsplit(":", 1)[-1]
    if row.client:
        info["submission_client"] = row.client
    if row.listened_seconds is not None:
        info["listened_seconds"] = row.listened_seconds  # AIME's own key: how long this play lasted
    meta = {"artist_name": row.artist, "track_name": row.title, "additional_info": info, "recording_msid": msid(row)}
    if row.album:
        meta["release_name"] = row.album
    return {"listened_at": row.played_at, "track_metadata": meta, "user_name": USER}


def jsonl(lo: int | None = None, hi: int | None = None) -> Iterator[bytes]:
    """ListenBrainz listens, one JSON object per line, oldest first (imports as listenbrainz-json)."""
    buffer: list[str] = []
    for row in rows(lo, hi):
        buffer.append(json.dumps(listen_document(row), ensure_ascii=False))
        if len(buffer) >= 1000:
            yield ("\n".join(buffer) + "\n").encode()
            buffer.clear()
    if buffer:
        yield ("\n".join(buffer) + "\n").encode()


def ghan_csv(lo: int | None = None, hi: int | None = None) -> Iterator[bytes]:
    """The lastfm.ghan.nl CSV layout, newest first (imports as lastfm-ghan-csv)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GHAN_HEADER)
    for count, row in enumerate(rows(lo, hi, newest_first=True), 1):
        moment = datetime.fromtimestamp(row.played_at, UTC)
        writer.writerow([row.played_at, moment.strftime("%d %b %Y, %H:%M"), row.artist, row.artist_mbid or "",
                         row.album or "", row.release_mbid or "", row.title, row.recording_mbid or ""])
        if count % 1000 == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


class _Pipe(io.RawIOBase):
    """A write-only, unseekable sink whose bytes are taken out as they come (zipfile streams into it)."""

    def __init__(self):
        super().__init__()
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def listenbrainz_zip(lo: int | None = None, hi: int | None = None) -> Iterator[bytes]:
    """The ListenBrainz export layout: user.json, listens/YYYY/M.jsonl, feedback.jsonl (loved tracks)."""
    pipe = _Pipe()
    loved: dict[str, int] = {}
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("user.json", json.dumps({"user_id": 1, "username": USER}))
        member, month, lines = None, None, []
        try:
            for row in rows(lo, hi):
                moment = datetime.fromtimestamp(row.played_at, UTC)
                if (moment.year, moment.month) != month:
                    if member is not None:
                        member.write("".join(lines).encode())
                        lines.clear()
                        member.close()
                    month = (moment.year, moment.month)
                    member = archive.open(f"listens/{moment.year}/{moment.month}.jsonl", "w")
                lines.append(json.dumps(listen_document(row), ensure_ascii=False) + "\n")
                if row.loved:
                    loved.setdefault(msid(row), row.played_at)
                if len(lines) >= 1000:  # one compress call per thousand plays, not per play
                    member.write("".join(lines).encode())
                    lines.clear()
                    yield pipe.take()
            if member is not None:
                member.write("".join(lines).encode())
        finally:  # also when the client goes away mid-download: the archive cannot close over an open member
            if member is not None:
                member.close()
        # One line per loved song (bounded by the number of songs, not of plays).
        archive.writestr("feedback.jsonl", "".join(
            json.dumps({"recording_msid": key, "recording_mbid": None, "score": 1, "created": created}) + "\n"
            for key, created in loved.items()))
    yield pipe.take()


def stream(config: Config, fmt: str, start_date=None, end_date=None, tz: str | None = None) -> Iterator[bytes]:
    """The export's bytes in `fmt`, for the plays of local days [start_date, end_date] (422 on bad input)."""
    p = period(config, start_date, end_date, tz)  # validated now, before any byte is sent
    return {"listenbrainz": listenbrainz_zip, "jsonl": jsonl, "csv": ghan_csv}[fmt](p.lo, p.hi)


def write_file(config: Config, path: Path, fmt: str, start_date=None, end_date=None, tz: str | None = None) -> dict:
    """Write the export to path (a temporary name first, renamed once complete); returns its size and time."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    started = time.perf_counter()
    chunks = stream(config, fmt, start_date, end_date, tz)
    try:
        with open(partial, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return {"path": str(path), "format": fmt, "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - started, 3)}


def format_of(path: Path, requested: str | None) -> str:
    """The requested format, else the one the file name's extension says (.zip, .jsonl, .csv)."""
    if requested:
        return requested
    by_ext = {ext: name for name, (ext, _mime) in FORMATS.items()}
    return by_ext.get(Path(path).suffix.lstrip(".").lower(), "listenbrainz")
