"""The chunked line reader gives the same records and line numbers as reading line by line."""
from __future__ import annotations

import io

import pytest

from aime.services.importers import textio
from aime.services.importers.lastfm import parse_ghan_csv
from aime.services.importers.records import Malformed, Play

HEADER = b"uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n"


def _rows(count: int) -> list[bytes]:
    return [f"{1699900000 + i},x,Band {i % 7},,Album,,Song {i},".encode() for i in range(count)]


def _parse(data: bytes) -> list:
    return [(type(r).__name__, r.line, getattr(r, "title", None) or getattr(r, "error", None))
            for r in parse_ghan_csv(io.BytesIO(data))]


@pytest.mark.parametrize("chunk", [16, 64, 1000])
def test_clean_file_read_in_chunks_matches_line_by_line(monkeypatch, chunk):
    data = HEADER + b"\r\n".join(_rows(40)) + b'\r\n1699999999,x,"Multi\nLine",,,,"Quoted, comma",'  # no final newline
    expected = _parse(data)
    monkeypatch.setattr(textio, "CHUNK_BYTES", chunk)
    assert _parse(data) == expected
    assert expected[-1] == ("Play", 42, "Quoted, comma")  # the quoted line break makes line 42 two lines long
    assert [line for _kind, line, _x in expected[:3]] == [2, 3, 4]


def test_a_bad_line_in_a_later_chunk_switches_to_line_by_line(monkeypatch):
    rows = _rows(30)
    rows[20] = "1699900020,x,Beyoncé,,,,Halo,".encode("cp1252")  # not UTF-8: the chunk needs a closer look
    rows[25] = b"1699900025,x,Nul\x00Band,,,,Song,"
    monkeypatch.setattr(textio, "CHUNK_BYTES", 100)
    records = list(parse_ghan_csv(io.BytesIO(HEADER + b"\n".join(rows) + b"\n")))
    plays = [r for r in records if isinstance(r, Play)]
    assert [(r.line, r.error) for r in records if isinstance(r, Malformed)] == [(27, "line contains NUL bytes")]
    assert len(plays) == 29 and [p.line for p in plays][:3] == [2, 3, 4] and plays[-1].line == 31
    assert [p.artist for p in plays if p.line == 22] == ["Beyoncé"]


def test_line_over_the_limit_after_clean_chunks(monkeypatch):
    monkeypatch.setattr(textio, "CHUNK_BYTES", 50)
    monkeypatch.setattr(textio, "MAX_LINE_BYTES", 400)
    rows = _rows(12)
    rows[8] = b"1699900008,x,Band," + b"a" * 1000 + b",,,Song,"
    records = list(parse_ghan_csv(io.BytesIO(HEADER + b"\n".join(rows) + b"\n")))
    assert [(r.line, r.error) for r in records if isinstance(r, Malformed)] == [(10, "line longer than 0 KB")]
    assert [p.line for p in records if isinstance(p, Play)] == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13]


def test_reading_goes_on_after_each_unreadable_record_with_exact_lines():
    """csv_rows: a record the csv module refuses is reported on its line, and the records after it are read."""
    huge = b"y" * (textio.MAX_FIELD_CHARS + 10)
    data = b"a,b\n" + huge + b",c\nd,e\n" + huge + b"\nf,g\n"
    refused = f"unreadable CSV: field larger than field limit ({textio.MAX_FIELD_CHARS})"
    got = [(line, row, problem and problem.error) for line, row, problem in textio.csv_rows(io.BytesIO(data))]
    assert got == [(1, ["a", "b"], None), (2, None, refused), (3, ["d", "e"], None), (4, None, refused),
                   (5, ["f", "g"], None)]
