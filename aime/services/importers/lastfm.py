"""Last.fm exports: lastfm-to-csv (no header), lastfm.ghan.nl CSV and JSON pages."""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from itertools import chain
from operator import itemgetter
from typing import BinaryIO

from .common import MAX_EPOCH, MIN_EPOCH, RowError, epoch, guarded, lastfm_date, mbid, play
from .jsonstream import top_level_items
from .records import KnownRows, Malformed, Play, Skipped
from .textio import LineReader, csv_rows

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
    if known is not None:
        yield from _known_rows(LineReader(stream), known)
        return
    rows = csv_rows(stream)
    for line, header, problem in rows:
        if problem is not None:
            yield problem
            continue
        columns = _ghan_columns(line, header)
        if type(columns) is Malformed:
            yield columns
            return
        yield from _ghan_rows(rows, columns)
        return


def _ghan_columns(line: int, header: list[str]) -> dict[str, int] | Malformed:
    """The header's column numbers by name, or the header's error."""
    columns = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [name for name in GHAN_COLUMNS if name not in columns]
    if missing:
        return Malformed(line, f"header lacks column(s) {', '.join(missing)}")
    return columns


def _ghan_rows(rows, columns: dict[str, int]) -> Iterator:
    build = _row_builder(columns)
    for line, row, problem in rows:
        yield problem if problem is not None else build(line, row, Malformed)


KNOWN_CHUNK = 1000  # rows per KnownRows record at most
KNOWN_MEMO_LIMIT = 200_000  # raw name/id combinations (and line texts) remembered; beyond, the memo restarts
# A line's leading fields (its time, then with lead 2 its date) and the text after them, which may be a memo key: the
# time plain digits (1-11), the date without quotes inside when quoted, and without quotes, commas or CRs when not.
# One match in C instead of a few string calls per line (the re-import's loop runs once per row).
_LEADING = {1: re.compile(r"([0-9]{1,11}),(.*)", re.DOTALL),
            2: re.compile(r'([0-9]{1,11}),(?:"[^"]*"|[^,"\r]*),(.*)', re.DOTALL)}


def _known_rows(source: LineReader, known) -> Iterator:
    """_ghan_rows for a re-import: a row whose Play would be a stored duplicate with nothing to teach is not built.

    Its raw fields other than the time (names and ids, as read) are looked up in `known.memo` (filled here with
    `known.track_key` of the row's Play the first time they are seen), and that key plus the row's time in
    `known.keys`; such rows come, in order, as KnownRows of at most KNOWN_CHUNK rows, every other row as
    `_ghan_rows` yields it. The set only changes while this generator waits at a `yield`: it is read again after each.

    Lines are read as `textio.csv_rows` reads them (same records, lines and problems), with one shortcut
    (`_KnownLines.lines`): when the time is the first column and the names and ids come after the second (or after
    the first, when the second is a name), a line is first looked up in the memo by its text after those leading
    fields, without the csv module. The csv module reads that text into the same fields whatever the leading fields
    held, as long as these are a plain number and a text without quotes or line breaks inside; the memo has such a
    text once a line of it was read, whole, as one record that is a stored play. Every other line begins a record
    that the csv module reads.
    """
    lines_in = iter(source)
    reader = csv.reader(lines_in, strict=False)
    found = yield from _header(reader, source.problems)
    if found is not None:
        parse = _KnownLines(found[0], found[1], known, lines_in, reader, source.problems)
        yield from parse.records()


def _header(reader, problems: list) -> Iterator:
    """Yields the problems before the header; returns (its columns, the line after it), or None (no header, or a
    header without the columns needed, reported)."""
    start = 1
    while True:
        done = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            yield from problems
            return None
        except csv.Error as error:
            yield Malformed(start, f"unreadable CSV: {error}")
            start += reader.line_num - done
            continue
        while problems:
            yield problems.pop(0)
        line, start = start, start + reader.line_num - done
        if row:
            columns = _ghan_columns(line, row)
            if type(columns) is Malformed:
                yield columns
                return None
            return columns, start


class _KnownLines:
    """The state of `_known_rows` after the header: the rows found so far (not yet yielded) and the line reached."""

    def __init__(self, columns: dict[str, int], start: int, known, lines_in, reader, problems: list) -> None:
        self.known, self.lines_in, self.reader, self.problems = known, lines_in, reader, problems
        self.start = start  # the line of the next record
        self.uts, self.width = columns["uts"], len(columns)
        self.picked = [columns[name] for name in ("artist", "album", "track", "artist_mbid", "album_mbid",
                                                  "track_mbid") if name in columns]
        self.raw = itemgetter(*self.picked)
        self.build = _row_builder(columns)
        lead = 0 if self.uts != 0 else 2 if self.width > 2 and 1 not in self.picked else 1  # fields before names
        self.lead = lead if all(i >= lead for i in self.picked) else 0  # 0: every line through the csv module
        self.found: list = [[], [], []]  # lines, fields (the memo's shared tuples), times of rows found
        self.keys = self.memo = None
        self.generation = 0
        self.renew()

    def renew(self) -> None:
        """Read the set again (after a yield)."""
        self.keys, self.memo, self.generation = self.known.keys, self.known.memo, self.known.generation

    def rebuild(self, line: int, fields: tuple, moment: int) -> Play:
        row = [""] * self.width
        for i, value in zip(self.picked, fields, strict=True):
            row[i] = value
        row[self.uts] = str(moment)
        return self.build(line, row)

    def flush(self) -> Iterator:
        """The rows found so far, as one KnownRows."""
        if self.found[0]:
            yield KnownRows(*self.found, self.rebuild, self.generation)
            self.found = [[], [], []]

    def records(self) -> Iterator:
        while True:
            text = tail = None
            if self.lead and self.keys is not None:
                text, tail = yield from self.lines()
                if text is None:
                    if self.keys is None:
                        continue  # the set was dropped: every line through the csv module for now
                    break  # the end of the file
                current, done = csv.reader(chain((text,), self.lines_in), strict=False), 0
            else:
                current, done = self.reader, self.reader.line_num
            try:
                row = next(current)
            except StopIteration:
                break
            except csv.Error as error:
                yield from self.flush()
                yield Malformed(self.start, f"unreadable CSV: {error}")
                self.start += current.line_num - done
                self.renew()
                continue
            line = self.start
            self.start += current.line_num - done
            if self.problems:
                yield from self.flush()
                while self.problems:
                    yield self.problems.pop(0)
                self.renew()
            if row:
                # the line was one whole record: its text alone gives its fields
                yield from self.row(line, row, tail if current is not self.reader and current.line_num == 1 else None)
        yield from self.flush()
        yield from self.problems

    def lines(self) -> Iterator:
        """Lines found from their text alone, until one is not (or the set is dropped): returns (that line, its text
        after the leading fields when that may be a memo key), or (None, None) at the end of the file."""
        lines, fields, moments = self.found
        keys, memo, problems, start = self.keys, self.memo, self.problems, self.start
        leading = _LEADING[self.lead].match
        text = tail = None
        for text in self.lines_in:
            match = leading(text)
            if match is None:
                tail = None
                break
            number, tail = match.groups()
            found = memo.get(tail)
            if found is None or problems or not MIN_EPOCH < (moment := int(number)) < MAX_EPOCH \
                    or found[0] + moment not in keys:
                break
            lines.append(start)
            fields.append(found[1])
            moments.append(moment)
            start += 1
            if len(lines) >= KNOWN_CHUNK:
                self.start = start
                yield from self.flush()
                self.renew()
                lines, fields, moments = self.found
                keys, memo = self.keys, self.memo
                if keys is None:
                    return None, None
        else:
            text = tail = None
        self.start = start
        return text, tail

    def row(self, line: int, row: list[str], tail: str | None) -> Iterator:
        """One record read by the csv module: found (to the rows found so far), or yielded."""
        record, memo, keys = None, self.memo, self.keys
        if keys is not None and len(row) >= self.width:
            names = self.raw(row)
            found = memo.get(names)
            if found is None:
                record = self.build(line, row, Malformed)
                if type(record) is Play:  # a malformed row says nothing about the other rows of the same fields
                    if len(memo) >= KNOWN_MEMO_LIMIT:
                        memo.clear()
                    found = memo[names] = (self.known.track_key(record), names)
            if found is not None and found[0] is not None:
                if tail is not None:
                    memo[tail] = found
                if (moment := _moment(row[self.uts])) is not None and found[0] + moment in keys:
                    self.found[0].append(line)
                    self.found[1].append(found[1])
                    self.found[2].append(moment)
                    if len(self.found[0]) >= KNOWN_CHUNK:
                        yield from self.flush()
                        self.renew()
                    return
        yield from self.flush()
        yield record if record is not None else self.build(line, row, Malformed)
        self.renew()


def _moment(text: str) -> int | None:
    """The time of a `uts` field that _csv_play takes as it is (plain digits in range), else None."""
    if text.isascii() and text.isdigit() and len(text) < 12:
        moment = int(text)
        if MIN_EPOCH < moment < MAX_EPOCH:
            return moment
    return None


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
