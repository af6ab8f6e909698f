"""Last.fm exports: lastfm-to-csv (no header), lastfm.ghan.nl CSV and JSON pages."""
from __future__ import annotations

from collections.abc import Iterator
from operator import itemgetter
from typing import BinaryIO

from .common import MAX_EPOCH, MIN_EPOCH, RowError, epoch, guarded, lastfm_date, mbid, play
from .jsonstream import top_level_items
from .records import KnownRows, Malformed, Play, Skipped
from .textio import csv_rows

GHAN_COLUMNS = ("uts", "artist", "track")


def parse_lastfm_csv(stream: BinaryIO) -> Iterator:
    """lastfm-to-csv: `artist,album,track,date` rows, minute precision, newest first."""
    for line, row, problem in csv_rows(stream):
        if problem is not None:
            yield problem
        elif len(row) != 4:
            yield Malformed(line, f"expected 4 fields (artist,album,track,date), found {len(row)}")
        elif not row[3].strip():
            yield Skipped(line, "no date (a now-playing entry)")
        else:
            try:  # inlined rather than guarded(): this is the million-row hot path
                yield play(line, row[0], row[2], row[1], lastfm_date(row[3]))
            except RowError as error:
                yield Malformed(line, str(error))


def parse_ghan_csv(stream: BinaryIO, known=None) -> Iterator:
    """lastfm.ghan.nl CSV: header `uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid`.

    With `known` (a `pipeline.KnownPlays`), rows that are plays already stored come as KnownRows (`_known_rows`).
    """
    rows = csv_rows(stream)
    for line, header, problem in rows:
        if problem is not None:
            yield problem
            continue
        columns = {name.strip().lower(): i for i, name in enumerate(header)}
        missing = [name for name in GHAN_COLUMNS if name not in columns]
        if missing:
            yield Malformed(line, f"header lacks column(s) {', '.join(missing)}")
            return
        yield from _ghan_rows(rows, columns) if known is None else _known_rows(rows, columns, known)
        return


def _ghan_rows(rows, columns: dict[str, int]) -> Iterator:
    build = _row_builder(columns)
    for line, row, problem in rows:
        yield problem if problem is not None else build(line, row, Malformed)


KNOWN_CHUNK = 1000  # rows per KnownRows record at most
KNOWN_MEMO_LIMIT = 200_000  # raw name/id combinations remembered; beyond, the memo restarts


def _known_rows(rows, columns: dict[str, int], known) -> Iterator:
    """_ghan_rows for a re-import: a row whose Play would be a stored duplicate with nothing to teach is not built.

    Its raw fields other than the time (names and ids, as read) are looked up in `known.memo` (filled here with
    `known.track_key` of the row's Play the first time they are seen), and that key plus the row's time in
    `known.keys`; such rows come, in order, as KnownRows of at most KNOWN_CHUNK rows, every other row as
    `_ghan_rows` yields it. The set only changes while this generator waits at a `yield`: it is read again after each.
    """
    uts, width = columns["uts"], len(columns)
    picked = [columns[name] for name in ("artist", "album", "track", "artist_mbid", "album_mbid", "track_mbid")
              if name in columns]
    raw = itemgetter(*picked)
    build = _row_builder(columns)

    def rebuild(line: int, fields: tuple, moment: int) -> Play:
        row = [""] * width
        for i, value in zip(picked, fields, strict=True):
            row[i] = value
        row[uts] = str(moment)
        return build(line, row)

    keys, memo, generation = known.keys, known.memo, known.generation
    lines: list[int] = []
    fields: list[tuple] = []
    moments: list[int] = []
    for line, row, problem in rows:
        record = problem
        if problem is None and keys is not None and len(row) >= width:
            found = memo.get(raw(row))
            if found is None:
                record = build(line, row, Malformed)
                if type(record) is Play:  # a malformed row says nothing about the other rows of the same fields
                    if len(memo) >= KNOWN_MEMO_LIMIT:
                        memo.clear()
                    names = raw(row)
                    found = memo[names] = (known.track_key(record), names)
            if found is not None and found[0] is not None and (text := row[uts]).isascii() and text.isdigit() \
                    and len(text) < 12 and MIN_EPOCH < (moment := int(text)) < MAX_EPOCH and found[0] + moment in keys:
                lines.append(line)
                fields.append(found[1])  # the memo's tuple: shared, the row's own is freed at once
                moments.append(moment)
                if len(lines) >= KNOWN_CHUNK:
                    yield KnownRows(lines, fields, moments, rebuild, generation)
                    lines, fields, moments = [], [], []
                    keys, memo, generation = known.keys, known.memo, known.generation
                continue
        if lines:
            yield KnownRows(lines, fields, moments, rebuild, generation)
            lines, fields, moments = [], [], []
        yield record if record is not None else build(line, row, Malformed)
        keys, memo, generation = known.keys, known.memo, known.generation
    if lines:
        yield KnownRows(lines, fields, moments, rebuild, generation)


def _row_builder(columns: dict[str, int]):
    """build(line, row, on_error=None): the Play of a row; for a row that cannot be one, on_error(line, message)
    (without on_error, RowError is raised)."""
    width, uts, artist, track = len(columns), columns["uts"], columns["artist"], columns["track"]
    album = columns.get("album")
    ids = [(field, columns[name]) for field, name in (("artist_mbid", "artist_mbid"), ("release_mbid", "album_mbid"),
                                                      ("recording_mbid", "track_mbid")) if name in columns]
    id_values = itemgetter(*[i for _field, i in ids]) if ids else None
    no_ids = ("",) * len(ids) if len(ids) > 1 else ""

    def build(line: int, row: list[str], on_error=None):
        try:  # inlined rather than guarded(): this is the million-row hot path
            if len(row) < width:
                raise RowError(f"expected {width} fields, found {len(row)}")
            found = _csv_play(line, row[artist], row[track], row[album] if album is not None else None, row[uts])
            if id_values is not None and id_values(row) != no_ids:  # most rows of most files have no ids
                for field, i in ids:
                    if row[i]:
                        setattr(found, field, _known_mbid(row[i]))
            return found
        except RowError as error:
            if on_error is None:
                raise
            return on_error(line, str(error))

    return build


def _csv_play(line: int, artist: str, title: str, album: str | None, uts: str) -> Play:
    """play() for text fields read from a CSV file, with a shortcut for the usual row.

    The shortcut skips play()'s NUL and lone-surrogate check: text decoded from bytes (strict UTF-8, or
    Windows-1252) has no lone surrogates, and textio drops lines with NUL bytes.
    """
    if uts.isascii() and uts.isdigit() and len(uts) < 12:
        moment = int(uts)
        if MIN_EPOCH < moment < MAX_EPOCH:
            artist, title = artist.strip(), title.strip()
            if album is not None:
                album = album.strip() or None
            if artist and title and len(artist) <= 500 and len(title) <= 500 and (album is None or len(album) <= 500):
                return Play(line, artist, title, album, moment)
    return play(line, artist, title, album, epoch(uts, "uts"))


_mbids: dict[str, str | None] = {}


def _known_mbid(value: str) -> str | None:
    """mbid(value), remembered: an artist's id repeats on every one of its plays (hot path)."""
    found = _mbids.get(value, _mbids)
    if found is _mbids:
        if len(_mbids) > 100_000:
            _mbids.clear()
        found = _mbids[value] = mbid(value)
    return found


def parse_ghan_json(stream: BinaryIO) -> Iterator:
    """lastfm.ghan.nl JSON: an array of recenttracks pages `{"track": [...]}`."""
    for line, page in top_level_items(stream):
        if isinstance(page, dict) and isinstance(page.get("recenttracks"), dict):
            page = page["recenttracks"]
        tracks = page.get("track") if isinstance(page, dict) else None
        if not isinstance(tracks, list):
            yield Malformed(line, "page has no track list")
            continue
        for index, item in enumerate(tracks, 1):
            if isinstance(item, dict) and (item.get("@attr") or {}).get("nowplaying") and not item.get("date"):
                yield Skipped(line, f"track {index} of the page is now playing (no date)")
            else:
                yield guarded(line, _json_play, line, index, item)


def _name(value) -> str | None:
    if isinstance(value, dict):
        return value.get("#text") or value.get("name")
    return value


def _mbid(value) -> str | None:
    return value.get("mbid") if isinstance(value, dict) else None


def _json_play(line: int, index: int, item: dict) -> Play:
    try:
        return play(line, _name(item.get("artist")), item.get("name"), _name(item.get("album")),
                    epoch((item.get("date") or {}).get("uts"), "date.uts"), loved=item.get("loved") == "1",
                    artist_mbid=mbid(_mbid(item.get("artist"))), release_mbid=mbid(_mbid(item.get("album"))),
                    recording_mbid=mbid(item.get("mbid")))
    except RowError as error:
        raise RowError(f"track {index} of the page: {error}") from None
