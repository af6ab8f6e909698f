"""Streaming JSON: the items of a (possibly huge) top-level array, or of one member's array, in bounded memory.

json.JSONDecoder.raw_decode over a sliding text buffer: each item is decoded whole (items are small),
the file never is. Also reads JSON Lines (one value per line).
"""
from __future__ import annotations

import codecs
import json
from typing import Any, BinaryIO
from collections.abc import Iterator

from .records import FatalFormatError

CHUNK_BYTES = 1024 * 1024
MAX_VALUE_CHARS = 16 * 1024 * 1024  # one item bigger than this is refused, not buffered
_WS = " \t\r\n"


class JsonStream:
    """A cursor over JSON text read incrementally from a binary stream (UTF-8, BOM allowed)."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self.buf = ""
        self.pos = 0
        self.line_base = 1  # line number at buf[counted]
        self.counted = 0  # newlines before this buffer offset are already in line_base
        self.eof = False
        self._json = json.JSONDecoder()

    def line(self) -> int:
        """1-based line number of the cursor (counted incrementally: items are many, buffers are big)."""
        if self.pos > self.counted:
            self.line_base += self.buf.count("\n", self.counted, self.pos)
            self.counted = self.pos
        return self.line_base

    def _fill(self) -> bool:
        if self.eof:
            return False
        if self.pos > 0:
            self.line()
            self.buf = self.buf[self.pos:]
            self.pos = self.counted = 0
        chunk = self.stream.read(CHUNK_BYTES)
        if not chunk:
            self.eof = True
            self.buf += self.decoder.decode(b"", final=True)
            return False
        self.buf += self.decoder.decode(chunk)
        return True

    def peek(self) -> str:
        """The next non-blank character ('' at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def expect(self, char: str) -> None:
        """Consume `char` or fail with the line."""
        if self.peek() != char:
            found = self.peek() or "end of file"
            raise FatalFormatError(self.line(), f"invalid JSON: expected {char!r}, found {found!r}")
        self.pos += 1

    def value(self) -> Any:
        """Decode the next whole value (reading more text while it is incomplete)."""
        self.peek()
        while True:
            try:
                value, end = self._json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as error:
                if self.eof:
                    raise FatalFormatError(self.line(), f"invalid JSON: {error.msg}") from None
                if len(self.buf) - self.pos > MAX_VALUE_CHARS:
                    raise FatalFormatError(self.line(), "a JSON value is larger than 16 MB, or broken") from None
                self._fill()
                continue
            except RecursionError:
                # Thousands of nested brackets exhaust the decoder's stack: the file is malformed, not the server.
                raise FatalFormatError(self.line(), "invalid JSON: a value is nested too deeply") from None
            if end == len(self.buf) and not self.eof:
                self._fill()  # a number cut at the chunk boundary would decode short: look further
                continue
            self.pos = end
            return value

    def items(self) -> Iterator[tuple[int, Any]]:
        """(line, item) for each element of the array at the cursor."""
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            self.peek()
            line = self.line()
            yield line, self.value()
            char = self.peek()
            if char == ",":
                self.pos += 1
                continue
            self.expect("]")
            return

    def members(self) -> Iterator[tuple[str, int]]:
        """Keys of the object at the cursor; the caller must consume each member's value."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise FatalFormatError(self.line(), "invalid JSON: object key is not a string")
            self.expect(":")
            yield key, self.line()
            char = self.peek()
            if char == ",":
                self.pos += 1
                continue
            self.expect("}")
            return


def top_level_items(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """Items of a top-level array, or each value of a JSON Lines file / single object."""
    cursor = JsonStream(stream)
    if cursor.peek() == "[":
        yield from cursor.items()
        return
    while cursor.peek():
        yield cursor.line(), cursor.value()


def member_items(stream: BinaryIO, key: str, header: dict) -> Iterator[tuple[int, Any]]:
    """Items of the array under top-level `key`; other top-level members are stored in `header`."""
    cursor = JsonStream(stream)
    for name, _line in cursor.members():
        if name == key and cursor.peek() == "[":
            yield from cursor.items()
        else:
            header[name] = cursor.value()
