"""A re-import reads without the write lock: batches whose plays are all there are counted in memory."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from aime.database import run_write
from aime.extensions import db
from aime.jobs import import_runner as runner
from aime.jobs import imports
from aime.models import ImportJob, ServiceState, TrackPlayTotal
from aime.services.importers import pipeline
from aime.services.importers.records import Play
from aime.services.importers.resolve import CatalogCache

START = 1_600_000_000


def _plays(rows: int = 5000) -> list[tuple[int, str, str]]:
    return [(START + 200 * i, f"Artist {i % 37}", f"Song {i % 101}") for i in range(rows)]


def _history(path, plays: list[tuple[int, str, str]]):
    lines = [f"{moment},{artist},{title}" for moment, artist, title in plays]
    path.write_text("uts,artist,track\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _spy(monkeypatch, name: str) -> list:
    """Count the calls of runner.<name> (still calling it)."""
    real, calls = getattr(runner, name), []

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(runner, name, spy)
    return calls


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 1000)  # 5,000 rows: five batches of 1,000


def test_a_reimport_never_takes_the_write_lock_for_its_batches(app, tmp_path, monkeypatch, small_batches,
                                                                  import_file):
    path = _history(tmp_path / "h.csv", _plays())
    assert import_file(path)["imported"] == 5000
    monkeypatch.setattr(runner, "FLUSH_SECONDS", 3600.0)
    writes, flushes = _spy(monkeypatch, "_timed_commit"), _spy(monkeypatch, "_flush")
    report = import_file(path)
    assert (report["status"], report["processed"], report["imported"], report["duplicates"]) == (
        "done", 5000, 0, 5000)
    assert len(writes) == 0
    assert len(flushes) == 1  # the counts, once at the end (the five batches take less than FLUSH_SECONDS)


def test_a_new_play_among_known_ones_is_written_with_the_counts_read_before_it(app, tmp_path, monkeypatch,
                                                                                 small_batches, import_file):
    plays = _plays()
    assert import_file(_history(tmp_path / "h.csv", plays))["imported"] == 5000
    writes = _spy(monkeypatch, "_timed_commit")
    # Row 2,500 (third batch) is new: a known song 100 s after another song's play, far from its own plays.
    new = (START + 200 * 2500 - 100, "Artist 0", "Song 0")
    report = import_file(_history(tmp_path / "more.csv", plays[:2500] + [new] + plays[2500:]))
    assert (report["status"], report["processed"], report["imported"], report["duplicates"]) == (
        "done", 5001, 1, 5000)
    # The third batch (it also committed the counts of the two read before it), and the fourth: after a batch
    # that added plays the next one is written directly; after the fourth added none, reading resumes.
    assert len(writes) == 2
    with app.app_context():
        assert db.session.scalar(select(func.sum(TrackPlayTotal.plays))) == 5001


def test_a_reimport_killed_before_its_counts_were_written_resumes_with_exact_counts(app, tmp_path, monkeypatch,
                                                                                     small_batches, import_file):
    path = _history(tmp_path / "h.csv", _plays())
    import_file(path)
    monkeypatch.setattr(runner, "FLUSH_SECONDS", 3600.0)
    real, calls = runner._read_batch, []

    def dies_in_the_fourth_batch(*args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # Ctrl-C: the lease is freed, nothing else is written
        return real(*args)

    monkeypatch.setattr(runner, "_read_batch", dies_in_the_fourth_batch)
    with app.app_context():
        job_id = imports.create_file_job(path, None)
        with pytest.raises(KeyboardInterrupt):
            imports.run_job(job_id)
        db.session.rollback()
        job = db.session.get(ImportJob, job_id)
        assert (job.processed, job.duplicates) == (0, 0)  # three batches were read, none counted yet
        db.session.get(ServiceState, imports.lease_name(job_id)).lease_expires_at = time.time() - 1
        db.session.commit()
    monkeypatch.setattr(runner, "_read_batch", real)
    with app.app_context():
        report = imports.run_job(job_id)
    assert (report["status"], report["processed"], report["imported"], report["duplicates"]) == (
        "done", 5000, 0, 5000)


def test_counts_of_batches_read_without_writing_reach_the_job_every_flush(app, tmp_path, monkeypatch,
                                                                           small_batches, import_file):
    path = _history(tmp_path / "h.csv", _plays())
    import_file(path)
    monkeypatch.setattr(runner, "FLUSH_SECONDS", 0.0)
    flushes = _spy(monkeypatch, "_flush")
    report = import_file(path)
    assert (report["processed"], report["duplicates"]) == (5000, 5000)
    assert [pending.records for _job, pending, _lease in flushes] == [1000] * 5


def test_loved_plays_already_loved_have_nothing_to_write(app):
    plays = [Play(1, "Nina", "Lilac Wine", None, START, loved=True),
             Play(2, "Nina", "Lilac Wine", None, START + 3600, loved=True)]
    with app.app_context():
        run_write(pipeline.write_plays, db.session, CatalogCache("lastfm"), plays, window=60, source="lastfm")
        result = _read_only_batch(plays)
    assert (result.inserted, result.duplicates) == ([], 2)


def _read_only_batch(plays: list[Play]):
    try:
        with pipeline.read_only(db.session):
            return pipeline.write_plays(db.session, CatalogCache("lastfm"), plays, window=60, source="lastfm",
                                        probe=True)
    finally:
        db.session.rollback()


def test_a_read_only_batch_refuses_writes_and_the_connection_writes_again_afterwards(app):
    known = Play(1, "Nina", "Lilac Wine", None, START)
    with app.app_context():
        run_write(pipeline.write_plays, db.session, CatalogCache("lastfm"), [known], window=60, source="lastfm")
        with pytest.raises(pipeline.NeedsWrite):  # a new play of a known song: stopped before its insert
            _read_only_batch([Play(2, "Nina", "Lilac Wine", None, START + 3600)])
        with pytest.raises(SQLAlchemyError):  # a new artist: the database refuses the catalogue insert
            _read_only_batch([Play(3, "Odetta", "Lilac Wine", None, START)])
        result = run_write(pipeline.write_plays, db.session, CatalogCache("lastfm"),
                           [Play(3, "Odetta", "Lilac Wine", None, START)], window=60, source="lastfm")
    assert len(result.inserted) == 1


def test_a_reimport_reports_the_same_malformed_rows_with_their_lines(app, tmp_path, small_batches, import_file):
    """Unreadable rows in the second and fifth batches: the re-import lists them as the first import did."""
    plays = [f"{moment},{artist},{title}" for moment, artist, title in _plays()]
    plays[1500] = "not-a-time,Artist 1,Song 1"
    plays[4200] = f"{START},,Song 2"
    path = tmp_path / "h.csv"
    path.write_text("uts,artist,track\n" + "\n".join(plays) + "\n", encoding="utf-8")
    errors = [{"line": 1502, "error": "uts 'not-a-time' is not a timestamp"},
              {"line": 4202, "error": "artist is missing"}]
    first = import_file(path)
    assert (first["processed"], first["imported"], first["duplicates"], first["errors"]) == (5000, 4998, 0, errors)
    again = import_file(path)
    assert (again["processed"], again["imported"], again["duplicates"], again["errors"]) == (5000, 0, 4998, errors)
