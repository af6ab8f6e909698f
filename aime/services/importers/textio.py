"""Reading real-world text files: BOM, CRLF, stray Windows-1252 lines, NUL bytes, absurdly long lines."""
from __future__ import annotations

import csv
import io
import sys
from itertools import chain
from typing import BinaryIO
from collections.abc import Iterator

from .records import Malformed

MAX_LINE_BYTES = 1024 * 1024  # longer lines are reported, never loaded whole (bounded memory)
MAX_FIELD_CHARS = 128 * 1024
CHUNK_BYTES = 1024 * 1024  # read and decoded at once when clean

csv.field_size_limit(min(sys.maxsize, MAX_FIELD_CHARS))


def decode_line(raw: bytes) -> str:
    """UTF-8, or Windows-1252 for a line that is not valid UTF-8 (what spreadsheet tools write)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _clean_lines(data: bytes) -> list[str] | None:
    """The lines of a chunk ending at a line end (or the file's end), or None when one needs a closer look."""
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    last = lines.pop()  # "" after a final line end; else the file's last line, without one
    if len(data) >= MAX_LINE_BYTES and max(map(len, lines), default=0) >= MAX_LINE_BYTES // 4:
        return None  # maybe a line over the limit (characters are 1-4 bytes): let the careful reader decide
    if len(last) >= MAX_LINE_BYTES // 4:
        return None
    lines = [line + "\n" for line in lines]
    if last:
        lines.append(last)
    return lines


class _Prefixed:
    """A chunk already read, then the rest of the stream, read line by line."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head = io.BytesIO(head)
        self.stream = stream

    def readline(self, limit: int) -> bytes:
        """One line of at most `limit` bytes, as BufferedReader.readline."""
        line = self.head.readline(limit)
        if line.endswith(b"\n") or len(line) >= limit:
            return line
        return line + self.stream.readline(limit - len(line))


class LineReader:
    """Decoded lines of a binary stream with their 1-based numbers; problems go to `problems`."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.lineno = 0
        self.problems: list[Malformed] = []

    def __iter__(self) -> Iterator[str]:
        # The lines of each chunk are a list, chained in C: a line costs no Python call of its own.
        return chain.from_iterable(self._chunks())

    def _chunks(self) -> Iterator:
        # Fast path: whole chunks of clean UTF-8 are decoded at once and split at "\n" (what readline splits at),
        # so a line costs no Python call of its own. The first chunk with anything unusual (NUL, a line that is
        # not UTF-8, a line longer than MAX_LINE_BYTES) switches to the line-by-line reading for the rest.
        read, readline = self.stream.read, self.stream.readline
        first = True
        while True:
            data = read(CHUNK_BYTES)
            if not data:
                return
            if not data.endswith(b"\n"):
                data += readline(MAX_LINE_BYTES)  # complete the chunk's last line (bounded)
            if first:
                first = False
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
            lines = _clean_lines(data)
            if lines is None:
                yield self._by_line(_Prefixed(data, self.stream))
                return
            self.lineno += len(lines)
            yield lines

    def _by_line(self, stream) -> Iterator[str]:
        readline = stream.readline
        while True:
            raw = readline(MAX_LINE_BYTES)
            if not raw:
                return
            self.lineno += 1
            if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
                _skip_rest_of_line(stream)
                self.problems.append(Malformed(self.lineno, f"line longer than {MAX_LINE_BYTES // 1024} KB"))
                yield "\n"  # keeps the csv reader's line count in step
                continue
            if b"\x00" in raw:
                self.problems.append(Malformed(self.lineno, "line contains NUL bytes"))
                yield "\n"
                continue
            yield decode_line(raw)


def _skip_rest_of_line(stream) -> None:
    while True:
        chunk = stream.readline(MAX_LINE_BYTES)
        if not chunk or chunk.endswith(b"\n"):
            return


def csv_rows(stream: BinaryIO) -> Iterator[tuple[int, list[str] | None, Malformed | None]]:
    """(line, fields, problem) for each CSV record: quoted commas/newlines, CRLF and BOM handled."""
    lines = LineReader(stream)
    reader = csv.reader(lines, strict=False)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            yield start, None, Malformed(start, f"unreadable CSV: {error}")
            start = reader.line_num + 1
            continue
        while lines.problems:
            problem = lines.problems.pop(0)
            yield problem.line, None, problem
        if row:
            yield start, row, None
        start = reader.line_num + 1  # lines given to the reader: the same count as lines.lineno
    for problem in lines.problems:
        yield problem.line, None, problem
