"""A re-import of a lastfm.ghan.nl CSV: on SQLite, once the stored plays are in memory, a line is first looked up by
its text after the time and the date (no csv module, no Play); every other line is read and written as before. Both
backends give the same counts, lines and rows."""
from __future__ import annotations

import csv

import pytest
from sqlalchemy import delete, select

from aime.extensions import db
from aime.models import Artist, Listen, Track
from aime.services import rollups
from aime.services.importers import lastfm, pipeline

S = 1_600_000_000
HEADER = "uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid"
DATE = '"13 Sep 2020, 12:26"'
# 1,200 plays first: the first batch (1,000 rows) is read before the stored plays are loaded, the lines below
# (from line 1202) are read with them in memory.
FILLER = [f"{S + 100_000 + 200 * i},{DATE},Filler {i % 3},,Record,,Tune {i % 7}," for i in range(1200)]
STORED = [
    f"{S},{DATE},Band,,Album,,Song 1,",
    f'{S + 200},{DATE},"Band, The",,Album,,"Song\n3",',  # one record on two lines
    f"{S + 400},13 Sep 2020 12:33,Band,,,,Song 4,",  # a date without quotes, no album
]
REIMPORTED = [
    STORED[0],  # 1202: stored
    f"{S + 10},{DATE},Band,,Album,,Song 1,",  # 1203: the text of a stored line, 10 s off: a duplicate (window)
    STORED[1],  # 1204-1205: stored
    f'{S + 200},{DATE},"Band, The",,Album,,"Song\n5",',  # 1206-1207: new; its first line is the text of 1204's
    f"abc,{DATE},Band,,Album,,Song 1,",  # 1208: malformed
    f"{S + 600},{DATE},,,Album,,Song 1,",  # 1209: malformed
    STORED[2],  # 1210: stored
    f"{S + 3600},{DATE},Band,,Album,,Song 1,",  # 1211: new, the text of a stored line after the date
    STORED[0],  # 1212: stored (a second time)
    f'{S + 400},"13 Sep 2020, 12:33",Band,,,,Song 4,',  # 1213: stored, its date now quoted
]


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 1000)


def _write(path, rows: list[str], end: str = "\n"):
    path.write_bytes((end.join([HEADER, *rows]) + end).encode())
    return path


def _section(app) -> list[tuple[str, str, int]]:
    """(artist, title, time) of every play stored before the filler's."""
    with app.app_context():
        query = (select(Artist.name, Track.title, Listen.played_at).join(Track, Track.id == Listen.track_id)
                 .join(Artist, Artist.id == Track.artist_id).where(Listen.played_at < S + 100_000)
                 .order_by(Listen.played_at, Track.title))
        return [tuple(row) for row in db.session.execute(query)]


class _CountingReader:
    """csv.reader, counting the records it reads."""

    def __init__(self, real, counts: list):
        self.real, self.counts = real, counts

    def __iter__(self):
        return self

    def __next__(self):
        row = next(self.real)
        self.counts.append(row[:1])
        return row

    @property
    def line_num(self) -> int:
        return self.real.line_num


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_a_reimport_with_stored_new_and_malformed_lines_in_one_batch(app, tmp_path, monkeypatch, small_batches,
                                                                     import_file, end):
    first = import_file(_write(tmp_path / "first.csv", FILLER + STORED, end))
    assert (first["processed"], first["imported"], first["duplicates"], first["errors"]) == (1203, 1203, 0, [])
    gone = S + 100_000 + 200 * 1100  # line 1102: a play the user deleted since, stored again by the re-import
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        track_id = db.session.scalar(select(Listen.track_id).where(Listen.played_at == gone))
        db.session.execute(delete(Listen).where(Listen.played_at == gone))
        rollups.listens_removed(db.session, [(track_id, gone)])
        db.session.commit()
    built, read = [], []
    real_play, real_reader = lastfm._csv_play, csv.reader
    monkeypatch.setattr(lastfm, "_csv_play", lambda *args: (built.append(args[0]), real_play(*args))[1])
    monkeypatch.setattr(csv, "reader", lambda *args, **kwargs: _CountingReader(real_reader(*args, **kwargs), read))
    report = import_file(_write(tmp_path / "again.csv", FILLER + REIMPORTED, end))
    monkeypatch.undo()
    assert (report["processed"], report["imported"], report["duplicates"]) == (1210, 3, 1205)
    assert report["errors"] == [{"line": 1208, "error": "uts 'abc' is not a timestamp"},
                                {"line": 1209, "error": "artist is missing"}]
    assert _section(app) == [("Band", "Song 1", S), ("Band, The", "Song\n3", S + 200),
                             ("Band, The", "Song\n5", S + 200), ("Band", "Song 4", S + 400),
                             ("Band", "Song 1", S + 3600)]
    with app.app_context():
        assert db.session.scalar(select(Listen.track_id).where(Listen.played_at == gone)) == track_id
    if sqlite:
        # Built as Plays: the first batch, then the first line of each of the filler's 21 (artist, title) (lines
        # 1002-1022), the deleted play and, of the lines from 1202, those not found from their text; then, as the
        # second batch writes, its rows found stored, built after all (as on main).
        found = [line for line in range(1002, 1202) if line != 1102] + [1202, 1204, 1210, 1212, 1213]
        assert built[1000:] == [*range(1002, 1023), 1102, 1202, 1203, 1204, 1206, 1208, 1209, 1210, 1211, *found]
        # Read by the csv module: the header (twice: the format's detection reads it too), the first batch and the
        # lines built above; the other 180 lines (178 of the filler, 1212 and 1213) by their text alone (main read
        # all 1,211 records with the csv module).
        assert len(read) == 2 + 1000 + 21 + 1 + 8
        assert read[1023:] == [[str(S + 100_000 + 200 * 1100)], [str(S)], [str(S + 10)], [str(S + 200)],
                               [str(S + 200)], ["abc"], [str(S + 600)], [str(S + 400)], [str(S + 3600)]]


def test_a_line_whose_unquoted_date_holds_a_carriage_return_is_read_by_the_csv_module(app, tmp_path, small_batches,
                                                                                     import_file):
    # After such a date, the text of a stored line is not what the csv module reads (it stops at the CR and reports
    # the record): the line must not be found from its text (lastfm._LEADING), here or on main.
    import_file(_write(tmp_path / "first.csv", FILLER + STORED))
    again = [STORED[0], f"{S},13 Sep\r2020 12:26,Band,,Album,,Song 1,", STORED[2]]  # lines 1202-1204
    report = import_file(_write(tmp_path / "again.csv", FILLER + again))
    assert (report["processed"], report["imported"], report["duplicates"]) == (1203, 0, 1202)
    assert report["errors"] == [{"line": 1203, "error": "unreadable CSV: new-line character seen in unquoted field - "
                                                        "do you need to open the file in universal-newline mode?"}]
