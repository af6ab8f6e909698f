"""A re-import on SQLite counts plays that are already stored from a set of (track, time) keys in memory, without
SQL, for as long as no other connection commits (PRAGMA data_version)."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from aime.extensions import db
from aime.jobs import import_runner as runner
from aime.models import Listen, Track
from aime.services.importers import pipeline

START = 1_600_000_000
ROWS = 5000


@pytest.fixture
def sqlite_only(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PRAGMA data_version: SQLite only")


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 1000)  # 5,000 rows: five batches of 1,000


def _history(path):
    """5,000 plays of 10 songs by 2 artists, 200 s apart (every batch has only songs of the first one)."""
    lines = [f"{START + 200 * i},Artist {i % 2},Song {i % 10}" for i in range(ROWS)]
    path.write_text("uts,artist,track\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _delete_at_third_freshness_check(app, monkeypatch, played_at: int) -> None:
    """Another connection deletes the listen at `played_at` when the re-import checks its set for the third time."""
    with app.app_context():
        database = db.engine.url.database
    real, calls = pipeline.KnownPlays.fresh, []

    def fresh(self, session, cache):
        calls.append(1)
        if len(calls) == 3:
            other = sqlite3.connect(database)
            other.execute("DELETE FROM listens WHERE played_at = ?", (played_at,))
            other.commit()
            other.close()
        return real(self, session, cache)

    monkeypatch.setattr(pipeline.KnownPlays, "fresh", fresh)


def _spy(monkeypatch, name: str) -> list:
    real, calls = getattr(runner, name), []

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, name, spy)
    return calls


def test_a_reimport_reads_no_batch_from_the_database(app, sqlite_only, tmp_path, monkeypatch, small_batches,
                                                      import_file):
    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    probes, writes = _spy(monkeypatch, "_probe"), _spy(monkeypatch, "_timed_commit")
    observed, real_observe = [], pipeline.BatchSizer.observe
    monkeypatch.setattr(pipeline.BatchSizer, "observe",
                        lambda self, rows, seconds: (observed.append(rows), real_observe(self, rows, seconds)))
    report = import_file(path)
    assert (report["status"], report["processed"], report["imported"], report["duplicates"]) == (
        "done", ROWS, 0, ROWS)
    assert (len(probes), len(writes)) == (0, 0)  # the names resolve from the catalogue loaded with the set
    assert observed == []  # batches counted in memory measure nothing about a write's lock hold


def test_a_commit_by_another_connection_between_batches_is_seen(app, sqlite_only, tmp_path, monkeypatch,
                                                                small_batches, import_file):
    """A play deleted by someone else during the re-import is stored again: the set is not trusted after it."""
    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    gone = START + 200 * 4321  # in the fifth batch
    _delete_at_third_freshness_check(app, monkeypatch, gone)  # before the third batch is read
    report = import_file(path)
    assert (report["imported"], report["duplicates"]) == (1, ROWS - 1)
    with app.app_context():
        assert db.session.scalar(select(func.count(Listen.id)).where(Listen.played_at == gone)) == 1


def test_a_conflict_made_between_batches_is_still_reported(app, sqlite_only, tmp_path, monkeypatch, small_batches,
                                                           import_file):
    """A stored MusicBrainz id changed by another connection mid-import disagrees with the file: reported."""
    mbid, other_mbid = "0383dadf-2a4e-4d10-a46a-e9e041da8eb3", "11111111-2a4e-4d10-a46a-e9e041da8eb3"
    lines = [f"{START + 200 * i},Artist 0,{mbid if i % 10 == 0 else ''},Song {i % 10}" for i in range(ROWS)]
    path = tmp_path / "h.csv"
    path.write_text("uts,artist,track_mbid,track\n" + "\n".join(lines) + "\n", encoding="utf-8")
    first = import_file(path)
    assert (first["imported"], first["conflicts"]) == (ROWS, [])
    with app.app_context():
        database = db.engine.url.database
        song0 = db.session.scalar(select(Track.id).where(Track.title == "Song 0"))
        assert db.session.get(Track, song0).recording_mbid == mbid
    real, calls = pipeline.KnownPlays.fresh, []

    def fresh(self, session, cache):
        calls.append(1)
        if len(calls) == 3:
            other = sqlite3.connect(database)
            other.execute("UPDATE tracks SET recording_mbid = ? WHERE id = ?", (other_mbid, song0))
            other.commit()
            other.close()
        return real(self, session, cache)

    monkeypatch.setattr(pipeline.KnownPlays, "fresh", fresh)
    report = import_file(path)
    assert (report["imported"], report["duplicates"]) == (0, ROWS)
    # batches three to five each report the disagreement once
    assert [(c["field"], c["stored"], c["file"]) for c in report["conflicts"]] == [
        ("recording_mbid", other_mbid, mbid)] * 3


def test_the_set_is_not_loaded_beyond_its_limit(app, sqlite_only, tmp_path, monkeypatch, small_batches, import_file):
    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    monkeypatch.setattr(pipeline, "KNOWN_LIMIT", ROWS - 1)
    probes = _spy(monkeypatch, "_probe")
    report = import_file(path)
    assert (report["imported"], report["duplicates"], len(probes)) == (0, ROWS, 5)  # read as before


def test_plays_of_tracks_whose_keys_pass_64_bits_are_counted_exactly(app, sqlite_only, tmp_path, monkeypatch,
                                                                    small_batches, import_file):
    """The set's keys are computed by SQLite in 64 bits: tracks with ids of 2**27 or more are left out of it, and
    their plays are read from the database as before (new ones stored, stored ones counted)."""
    from aime.models import Artist

    with app.app_context():  # the next tracks get ids from 2**27 on
        artist = Artist(name="Placeholder", name_key="placeholder", created_at=0)
        db.session.add(artist)
        db.session.flush()
        db.session.add(Track(id=2**27 - 1, title="Placeholder", title_key="placeholder", artist_id=artist.id,
                             loved=False, created_at=0))
        db.session.commit()
    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    with app.app_context():
        assert db.session.scalar(select(func.min(Listen.track_id))) == 2**27
    path.write_text(path.read_text(encoding="utf-8") + f"{START - 100},Artist 0,Song 0\n", encoding="utf-8")
    probes = _spy(monkeypatch, "_probe")
    report = import_file(path)
    assert (report["processed"], report["imported"], report["duplicates"]) == (ROWS + 1, 1, ROWS)
    assert len(probes) == 6  # every batch read from the database: no play of these tracks is in the set


def test_names_are_normalised_before_the_write_lock(app, tmp_path, monkeypatch, small_batches, import_file):
    """A first import normalises each batch's new names before BEGIN IMMEDIATE: none inside the transaction."""
    from aime.services.importers import resolve

    real, inside, calls = resolve.normalise, [False], []

    def normalise(name):
        calls.append((name, inside[0]))
        return real(name)

    def timed_commit(*args, _real=runner._timed_commit):
        inside[0] = True
        try:
            return _real(*args)
        finally:
            inside[0] = False

    monkeypatch.setattr(resolve, "normalise", normalise)
    monkeypatch.setattr(runner, "_timed_commit", timed_commit)
    report = import_file(_history(tmp_path / "h.csv"))
    assert report["imported"] == ROWS
    assert sorted({name for name, _inside in calls}) == ["Artist 0", "Artist 1"] + [f"Song {i}" for i in range(10)]
    assert [name for name, locked in calls if locked] == []


def test_a_batch_probed_in_part_leaves_the_batch_size(app, sqlite_only, tmp_path, monkeypatch, small_batches,
                                                      import_file):
    """Two plays per batch 10 s off their stored time: only those are probed, and that short probe sizes nothing."""
    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    lines = [f"{START + 200 * i + (10 if i % 500 == 7 else 0)},Artist {i % 2},Song {i % 10}" for i in range(ROWS)]
    moved = tmp_path / "moved.csv"
    moved.write_text("uts,artist,track\n" + "\n".join(lines) + "\n", encoding="utf-8")
    probes = _spy(monkeypatch, "_probe")
    observed, real_observe = [], pipeline.BatchSizer.observe
    monkeypatch.setattr(pipeline.BatchSizer, "observe",
                        lambda self, rows, seconds: (observed.append(rows), real_observe(self, rows, seconds)))
    report = import_file(moved)
    assert (report["imported"], report["duplicates"]) == (0, ROWS)  # within the duplicate window
    assert [len(args[2].plays) for args in probes] == [2, 2, 2, 2, 2]
    assert observed == []


def _ghan(path, rows: list[str], header: str = "uts,artist,artist_mbid,album,album_mbid,track,track_mbid"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


ARTIST_ID, ALBUM_ID, TRACK_ID = ("0383dadf-2a4e-4d10-a46a-e9e041da8eb3", "11111111-2a4e-4d10-a46a-e9e041da8eb3",
                                 "22222222-2a4e-4d10-a46a-e9e041da8eb3")


def test_plays_whose_details_equal_the_stored_ones_are_counted_in_memory(app, sqlite_only, tmp_path, monkeypatch,
                                                                         small_batches, import_file):
    """MusicBrainz ids equal to the stored ones, and an album id on album-less plays (which enrich ignores): no SQL."""
    rows = [f"{START + 200 * i},Artist 0,{ARTIST_ID},{'Album' if i % 2 else ''},{ALBUM_ID},Song {i % 10},"
            f"{TRACK_ID if i % 10 == 1 else ''}" for i in range(ROWS)]
    path = _ghan(tmp_path / "h.csv", rows)
    first = import_file(path)
    assert (first["imported"], first["conflicts"]) == (ROWS, [])
    probes, writes = _spy(monkeypatch, "_probe"), _spy(monkeypatch, "_timed_commit")
    report = import_file(path)
    assert (report["imported"], report["duplicates"], report["enriched"], report["conflicts"]) == (0, ROWS, 0, [])
    assert (len(probes), len(writes)) == (0, 0)


def test_a_detail_the_database_lacks_is_still_stored_on_reimport(app, sqlite_only, tmp_path, small_batches,
                                                                 import_file):
    """The same plays again, now with MusicBrainz ids: each stored column that is empty takes the file's value."""
    plain = [f"{START + 200 * i},Artist 0,,Album,,Song {i % 10}," for i in range(ROWS)]
    assert import_file(_ghan(tmp_path / "plain.csv", plain))["imported"] == ROWS
    rows = [f"{START + 200 * i},Artist 0,{ARTIST_ID},Album,{ALBUM_ID},Song {i % 10},"
            f"{TRACK_ID if i % 10 == 1 else ''}" for i in range(ROWS)]
    report = import_file(_ghan(tmp_path / "ids.csv", rows))
    assert (report["imported"], report["duplicates"], report["conflicts"]) == (0, ROWS, [])
    assert report["enriched"] == 2  # play 0 brings the artist's and the album's id, play 1 Song 1's
    with app.app_context():
        assert db.session.scalars(select(Track.recording_mbid).order_by(Track.title)).all() == (
            [None, TRACK_ID] + [None] * 8)


def test_a_reimport_builds_a_play_only_for_rows_it_cannot_count_from_their_fields(app, sqlite_only, tmp_path,
                                                                                   monkeypatch, small_batches,
                                                                                   import_file):
    """The first batch is read before the set is loaded (1,000 plays built); after it, a row is counted from its raw
    fields: a Play is built once per distinct (artist, title) to learn its track (10), and for nothing else."""
    from aime.services.importers import lastfm

    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    built = []
    real = lastfm._csv_play
    monkeypatch.setattr(lastfm, "_csv_play", lambda *args: (built.append(args[0]), real(*args))[1])
    report = import_file(path)
    assert (report["processed"], report["imported"], report["duplicates"], report["errors"]) == (ROWS, 0, ROWS, [])
    assert len(built) == 1000 + 10
    assert built[1000:] == list(range(1002, 1012))  # lines: the header is line 1, the first batch lines 2-1001


def test_a_commit_by_another_connection_while_a_batch_was_read_voids_what_the_parser_found(
        app, sqlite_only, tmp_path, monkeypatch, small_batches, import_file):
    """A play of the third batch deleted by someone else after that batch was read, before it is counted: the rows
    the parser counted from the set as it was are looked at again, and the deleted play is stored again."""
    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    gone = START + 200 * 2345  # in the third batch
    _delete_at_third_freshness_check(app, monkeypatch, gone)  # the third batch is read (rows found), not yet counted
    report = import_file(path)
    assert (report["processed"], report["imported"], report["duplicates"]) == (ROWS, 1, ROWS - 1)
    with app.app_context():
        assert db.session.scalar(select(func.count(Listen.id)).where(Listen.played_at == gone)) == 1


def test_batches_cut_rows_found_by_the_parser_where_a_batch_or_the_skipped_rows_end():
    """Batches of 4 after 3 skipped records, from a play, 6 known rows, a malformed row and 2 known rows."""
    from aime.services.importers.records import KnownRows, Malformed, Play

    def build(line, fields, moment):
        return Play(line, "A", "T", None, moment)

    def known(lines):
        return KnownRows(lines, [("A", "T")] * len(lines), [START + n for n in lines], build, 7)

    records = [Play(2, "A", "T", None, START), known(list(range(3, 9))), Malformed(9, "bad"), known([10, 11])]
    found = [(b.records, [p.line for p in b.plays], [line for k in b.known for line in k.lines], b.errors)
             for b in pipeline.batches(iter(records), skip_first=3, size=4)]
    assert found == [(4, [], [5, 6, 7, 8], []), (3, [], [10, 11], [{"line": 9, "error": "bad"}])]


def test_a_batch_of_known_rows_alone_grows_to_the_known_size():
    """Batches of 4, or of 6 while a batch holds known rows alone: 10 known rows, a play, 2 known rows, an error."""
    from aime.services.importers.records import KnownRows, Malformed, Play

    def build(line, fields, moment):
        return Play(line, "A", "T", None, moment)

    def known(lines):
        return KnownRows(lines, [("A", "T")] * len(lines), [START + n for n in lines], build, 7)

    records = [known(list(range(2, 12))), Play(12, "A", "T", None, START), known([13, 14]), Malformed(15, "bad")]
    found = [(b.records, [p.line for p in b.plays], [line for k in b.known for line in k.lines], b.errors)
             for b in pipeline.batches(iter(records), size=4, known_size=6)]
    assert found == [(6, [], [2, 3, 4, 5, 6, 7], []), (4, [], [8, 9, 10, 11], []),
                     (4, [12], [13, 14], [{"line": 15, "error": "bad"}])]


def test_a_reimport_checks_the_set_once_per_batch_of_the_largest_size(app, sqlite_only, tmp_path, monkeypatch,
                                                                     import_file):
    """Batches start at 500 rows; once the parser finds stored rows, a batch of them alone takes up to 2,500: the
    5,000 rows are read in 3 batches (500, 2,500, 2,000), each with one freshness check (main: 10)."""
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 2500)
    monkeypatch.setattr(pipeline, "FIRST_BATCH", 500)
    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    real, checks = pipeline.KnownPlays.fresh, []
    monkeypatch.setattr(pipeline.KnownPlays, "fresh", lambda self, *args: (checks.append(1), real(self, *args))[1])
    batches, real_batches = [], pipeline.batches

    def spy(*args, **kwargs):
        for batch in real_batches(*args, **kwargs):
            batches.append(batch.records)
            yield batch

    monkeypatch.setattr(runner, "batches", spy)
    report = import_file(path)
    assert (report["processed"], report["imported"], report["duplicates"]) == (ROWS, 0, ROWS)
    assert (batches, len(checks)) == ([500, 2500, 2000], 3)


def _collector_states(app, monkeypatch, path, own_process: bool) -> tuple[dict, list, list]:
    """Run an import job; the collector's state at each batch read (_read_batch) and each write (_timed_commit)."""
    import gc

    from aime.jobs import imports

    reads, writes = [], []
    for name, states in (("_read_batch", reads), ("_timed_commit", writes)):
        real = getattr(runner, name)
        monkeypatch.setattr(runner, name, lambda *args, _real=real, _states=states: (
            _states.append(gc.isenabled()), _real(*args))[1])
    with app.app_context():
        report = imports.run_job(imports.create_file_job(path, None), own_process=own_process)
    assert gc.isenabled()
    return report, reads, writes


def test_an_import_in_a_process_of_its_own_pauses_the_collector_while_the_set_is_loaded(
        app, sqlite_only, tmp_path, monkeypatch, small_batches):
    """The CLI (own_process): the first batch is read before the set is loaded, the others with it loaded and the
    collector paused; a write drops the set first, so every write runs with the collector; it runs after the job."""
    path = _history(tmp_path / "h.csv")
    report, reads, writes = _collector_states(app, monkeypatch, path, own_process=True)
    assert (report["imported"], reads, writes) == (ROWS, [True], [True] * 5)
    report, reads, writes = _collector_states(app, monkeypatch, path, own_process=True)
    assert (report["duplicates"], reads, writes) == (ROWS, [True, False, False, False, False], [])


def test_an_import_in_a_server_never_pauses_the_collector(app, sqlite_only, tmp_path, monkeypatch, small_batches,
                                                          import_file):
    path = _history(tmp_path / "h.csv")
    assert import_file(path)["imported"] == ROWS
    report, reads, writes = _collector_states(app, monkeypatch, path, own_process=False)
    assert (report["duplicates"], reads, writes) == (ROWS, [True] * 5, [])


def test_dropping_the_set_frees_it_even_where_a_parser_still_holds_it(app, sqlite_only, tmp_path, import_file):
    """A parser reads the set again only after its next yield: what it holds is emptied at once, so the collector,
    running again, need not walk it."""
    from aime.services.importers.resolve import CatalogCache

    assert import_file(_history(tmp_path / "h.csv"))["imported"] == ROWS
    known = pipeline.KnownPlays()
    with app.app_context():
        assert known.fresh(db.session, CatalogCache("lastfm"))
    keys, memo = known.keys, known.memo
    memo["A,T\n"] = (1 << 36, ("A", "T"))
    assert (len(keys), len(memo)) == (ROWS, 1)
    known.drop()
    assert (keys, memo, known.keys, known.memo, known.memo is memo) == (set(), {}, None, {}, False)
