"""aime.server.worker_io.prefetch_body: a request's body read ahead on the I/O thread; none for a bodiless request."""
from __future__ import annotations

import io

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from gunicorn.http.body import LengthReader

from aime.server.worker_io import PrefetchedReader, prefetch_body

pytestmark = pytest.mark.resilience


class FakeSocket:
    """What gunicorn's parser reads a request from."""

    def __init__(self, data: bytes):
        self.data = io.BytesIO(data)

    def recv(self, size: int) -> bytes:
        return self.data.read(size)


def parsed(raw: bytes):
    return next(RequestParser(Config(), FakeSocket(raw), ("127.0.0.1", 5000)))


def test_a_request_without_content_length_or_transfer_encoding_keeps_its_reader():
    for method in (b"GET", b"HEAD", b"DELETE"):
        req = parsed(method + b" /x HTTP/1.1\r\nHost: a\r\n\r\n")
        original = req.body.reader
        prefetch_body(req, None, 1024)
        assert req.body.reader is original and isinstance(original, LengthReader)
        assert req.body.read() == b""


def test_a_body_with_a_length_or_chunked_is_read_ahead():
    req = parsed(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
    prefetch_body(req, None, 1024)
    assert isinstance(req.body.reader, PrefetchedReader)
    assert req.body.read() == b"hello"
    req.body.reader.spool.close()
    req = parsed(b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    prefetch_body(req, None, 1024)
    assert isinstance(req.body.reader, PrefetchedReader)
    assert req.body.read() == b"abcde"
    req.body.reader.spool.close()
