"""Reading real-world text files: BOM, CRLF, stray Windows-1252 lines, NUL bytes, absurdly long lines."""
from __future__ import annotations

import csv
import sys
from typing import BinaryIO
from collections.abc import Iterator

from .records import Malformed

MAX_LINE_BYTES = 1024 * 1024  # longer lines are reported, never loaded whole (bounded memory)
MAX_FIELD_CHARS = 128 * 1024

csv.field_size_limit(min(sys.maxsize, MAX_FIELD_CHARS))


def decode_line(raw: bytes) -> str:
    """UTF-8, or Windows-1252 for a line that is not valid UTF-8 (what spreadsheet tools write)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


class LineReader:
    """Decoded lines of a binary stream with their 1-based numbers; problems go to `problems`."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.lineno = 0
        self.problems: list[Malformed] = []

    def __iter__(self) -> Iterator[str]:
        readline = self.stream.readline
        first = True
        while True:
            raw = readline(MAX_LINE_BYTES)
            if not raw:
                return
            self.lineno += 1
            if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
                self._skip_rest_of_line()
                self.problems.append(Malformed(self.lineno, f"line longer than {MAX_LINE_BYTES // 1024} KB"))
                yield "\n"  # keeps the csv reader's line count in step
                continue
            if first:
                first = False
                if raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
            if b"\x00" in raw:
                self.problems.append(Malformed(self.lineno, "line contains NUL bytes"))
                yield "\n"
                continue
            yield decode_line(raw)

    def _skip_rest_of_line(self) -> None:
        while True:
            chunk = self.stream.readline(MAX_LINE_BYTES)
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
            start = lines.lineno + 1
            continue
        while lines.problems:
            problem = lines.problems.pop(0)
            yield problem.line, None, problem
        if row:
            yield start, row, None
        start = lines.lineno + 1
    for problem in lines.problems:
        yield problem.line, None, problem
