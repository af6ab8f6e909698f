"""Property tests: whatever the bytes, detection and parsers answer with records or a clear error, never crash."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from aime.services.importers import FORMATS
from aime.services.importers.detect import detect
from aime.services.importers.records import CollectionEntry, FatalFormatError, Malformed, Play, Skipped

from .conftest import SAMPLES

RECORDS = (Play, Skipped, Malformed, CollectionEntry)
SAMPLE_BYTES = [p.read_bytes() for p in sorted(Path(SAMPLES).iterdir()) if p.suffix in (".csv", ".json", ".zip")]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _drain(parse, data: bytes) -> list:
    try:
        records = list(parse(io.BytesIO(data)))
    except FatalFormatError as error:
        assert isinstance(error.line, int) and error.message
        return []
    assert all(isinstance(r, RECORDS) for r in records)
    assert all(isinstance(r.line, int) and r.line >= 0 for r in records)
    return records


@FAST
@given(st.binary(max_size=2048))
def test_any_bytes_every_parser(data):
    assert detect(io.BytesIO(data)) in (None, *FORMATS)
    for fmt in FORMATS.values():
        _drain(fmt.parse, data)


@FAST
@given(st.sampled_from(range(len(SAMPLE_BYTES))), st.data())
def test_damaged_samples_never_crash(index, data):
    original = bytearray(SAMPLE_BYTES[index])
    cut = data.draw(st.integers(0, len(original)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)), max_size=8))
    for at, value in flips:
        original[at] = value
    damaged = bytes(original[:cut]) + data.draw(st.binary(max_size=64))
    name = detect(io.BytesIO(damaged))
    for fmt in FORMATS.values() if name is None else [FORMATS[name]]:
        _drain(fmt.parse, damaged)


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), min_size=1,
                max_size=60).filter(lambda s: s.strip())


@FAST
@given(st.lists(st.tuples(names, names, st.integers(1_100_000_000, 1_800_000_000)), min_size=1, max_size=20))
def test_csv_text_round_trips(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["uts", "artist", "track"])
    for artist, title, moment in rows:
        writer.writerow([moment, artist, title])
    records = _drain(FORMATS["lastfm-ghan-csv"].parse, buffer.getvalue().encode("utf-8"))
    assert [(r.artist, r.title, r.played_at) for r in records] == [
        (a.strip(), t.strip(), m) for a, t, m in rows]
