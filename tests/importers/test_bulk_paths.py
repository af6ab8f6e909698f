"""The bulk paths of the import pipeline: the dedup lookup by time span (or by track when the span is crowded),
PostgreSQL's COPY into a staging table, and the planner statistics refreshed after a large import."""
from __future__ import annotations

import re

import time

import pytest
from sqlalchemy import event, text

from aime.database import run_write
from aime.extensions import db
from aime.services.importers import pipeline
from aime.services.importers.records import Play
from aime.services.importers.resolve import CatalogCache

T0 = 1_700_000_000


def _write(plays: list[Play], window: int = 60):
    return run_write(lambda: pipeline.write_plays(db.session, CatalogCache("lastfm"), plays, window=window,
                                                  source="lastfm"))


def _crowd() -> list[Play]:
    """300 plays of 30 other songs, one every 10 s from T0, then one play of the song under test at T0 + 3000."""
    plays = [Play(i, f"Crowd {i % 3}", f"Song {i % 10}", "Busy", T0 + 10 * i) for i in range(300)]
    return plays + [Play(300, "Solo", "Alone", None, T0 + 3_000)]


def _listens() -> list[tuple]:
    return [tuple(r) for r in db.session.execute(text(
        "SELECT artists.name, tracks.title, listens.played_at FROM listens JOIN tracks ON tracks.id = listens.track_id "
        "JOIN artists ON artists.id = tracks.artist_id ORDER BY listens.played_at, artists.name"))]


@pytest.mark.parametrize("rows_per_play, slack", [(4, 1_000), (0, 0)], ids=["by-span", "by-track"])
def test_a_play_within_the_window_is_a_duplicate_whichever_lookup_finds_it(app, monkeypatch, rows_per_play, slack):
    # by-track: the span query may return no row at all, so every batch falls back to the per-track query.
    monkeypatch.setattr(pipeline, "RANGE_ROWS_PER_PLAY", rows_per_play)
    monkeypatch.setattr(pipeline, "RANGE_ROWS_SLACK", slack)
    with app.app_context():
        assert len(_write(_crowd()).inserted) == 301
        # Same song 59 s later (a duplicate), 61 s later (a new play), and a crowd song at a stored instant.
        result = _write([Play(1, "Solo", "Alone", None, T0 + 3_059), Play(2, "Solo", "Alone", None, T0 + 3_119),
                         Play(3, "Crowd 1", "Song 1", "Busy", T0 + 10)])
        assert (len(result.inserted), result.duplicates) == (1, 2)
        assert [row for row in _listens() if row[0] == "Solo"] == [("Solo", "Alone", T0 + 3_000),
                                                                   ("Solo", "Alone", T0 + 3_119)]
        assert len(_listens()) == 302


def test_the_span_lookup_gives_up_when_the_span_holds_more_plays_than_allowed(app, monkeypatch):
    calls = []
    original = pipeline._listens_in_span
    monkeypatch.setattr(pipeline, "_listens_in_span", lambda *a: calls.append(original(*a)) or calls[-1])
    with app.app_context():
        _write(_crowd())
        # Two plays spanning the whole crowd: 4 x 2 + 1,000 rows allowed, 301 stored -> answered by span.
        both = [Play(1, "Solo", "Alone", None, T0 + 3_001), Play(2, "Crowd 0", "Song 0", "Busy", T0 - 30)]
        assert _write(both).duplicates == 2
        assert len(calls[-1]) == 301
        monkeypatch.setattr(pipeline, "RANGE_ROWS_SLACK", 100)
        # Now 108 allowed: the span query gives up (None) and the by-track query still finds both duplicates.
        result = _write(both)
        assert calls[-1] is None
        assert (len(result.inserted), result.duplicates) == (0, 2)


def _pg_only(app) -> None:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL path")


def test_postgres_batches_go_through_copy_into_a_staging_table(app):
    _pg_only(app)

    def write_and_look(plays, window):
        result = pipeline.write_plays(db.session, CatalogCache("lastfm"), plays, window=window, source="lastfm")
        staged = db.session.execute(text("SELECT count(*) FROM import_listens")).scalar()  # same transaction
        return result, staged

    with app.app_context():
        result, staged = run_write(write_and_look, _crowd(), 60)
        assert (len(result.inserted), staged) == (301, 301)
        # A duplicate of a stored play (exact instant, window 0) and a new play: only the new one is staged.
        again, staged = run_write(write_and_look, [Play(1, "Solo", "Alone", None, T0 + 3_000),
                                                   Play(2, "Solo", "Alone", None, T0 + 3_001)], 0)
        assert (again.inserted, again.duplicates, staged) == ([(again.inserted[0][0], T0 + 3_001, None)], 1, 1)
        assert len(_listens()) == 302


def test_batches_of_any_size_send_the_same_statement_texts(app, monkeypatch):
    # An IN list of as many marks as values is a new statement text for every count: psycopg prepared each one it
    # saw five times and kept 100 per connection, sqlite3 keeps 128. One bound value (aime/services/sql_lists.py:
    # = ANY on PostgreSQL, json_each on SQLite) keeps one text per query.
    monkeypatch.setattr(pipeline, "RANGE_ROWS_SLACK", 0)  # the per-track dedup query too
    monkeypatch.setattr(pipeline, "RANGE_ROWS_PER_PLAY", 0)
    texts: list[set[str]] = []

    def seen(_conn, _cursor, statement, *_args):
        texts[-1].add(statement)

    with app.app_context():
        dialect = db.engine.dialect.name
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            for size in (3, 7, 12):  # new artists, albums and tracks, loved plays; then the same plays again
                for _again in (False, True):
                    texts.append(set())
                    _write([Play(i, f"Artist {size} {i}", f"Song {i}", f"Album {i}", T0 + 100 * i, loved=True)
                            for i in range(size)])
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    # (the first batch found no stored play at all: it ran no per-track dedup query)
    if dialect == "postgresql":
        assert texts[2] == texts[4] and texts[1] == texts[3] == texts[5]
    # On SQLite new artists and albums still go in as one multi-row VALUES per batch (a text per count): left.
    assert not [statement for statement in set().union(*texts) if re.search(r" IN \((\?|%\()", statement)]


def test_postgres_copy_rows_keep_every_column(app):
    _pg_only(app)
    with app.app_context():
        plays = [Play(1, "Ａrtist, \"quoted\"", "Tab\there", None, T0, client="Pano\\Scrobbler", listened_seconds=91),
                 Play(2, "Nul-free ünïcode", "Line\nbreak", "Álbum", T0 + 100)]
        run_write(lambda: pipeline.write_plays(db.session, CatalogCache("lastfm"), plays, window=60,
                                               source="lastfm", import_id=7))
        rows = db.session.execute(text(
            "SELECT tracks.title, listens.played_at, listens.source, listens.client, listens.import_id, "
            "listens.listened_seconds FROM listens JOIN tracks ON tracks.id = listens.track_id "
            "ORDER BY listens.played_at")).all()
        assert [tuple(r) for r in rows] == [("Tab\there", T0, "lastfm", "Pano\\Scrobbler", 7, 91),
                                            ("Line\nbreak", T0 + 100, "lastfm", None, 7, None)]


def _analysed(app) -> tuple:
    with app.app_context():
        for _ in range(50):  # the statistics collector publishes its counters shortly after the command
            row = db.session.execute(text(
                "SELECT last_analyze, last_vacuum FROM pg_stat_user_tables WHERE relname = 'listens'")).one()
            db.session.rollback()
            if row[0] is not None:
                break
            time.sleep(0.1)
        return tuple(row)


def _reset_statistics(app) -> None:
    with app.app_context():
        db.session.execute(text("SELECT pg_stat_reset_single_table_counters('listens'::regclass)"))
        db.session.commit()
        assert _analysed(app) == (None, None)


def test_a_large_import_leaves_postgres_with_fresh_statistics(app, samples, import_file, tmp_path):
    _pg_only(app)
    _reset_statistics(app)
    report = import_file(samples / "recenttracks-alice-1700000000.csv")
    assert report["imported"] == 10
    last_analyze, last_vacuum = _analysed(app)
    assert last_analyze is not None and last_vacuum is not None  # VACUUM (ANALYZE) listens ran
    with app.app_context():
        assert db.session.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'listens'")).scalar() == 10
    # One more play on ten stored ones is under a tenth of the table: no statistics work for it.
    _reset_statistics(app)
    small = tmp_path / "one.csv"
    small.write_text("uts,artist,track\n1600000000,Someone,Something\n")
    assert import_file(small)["imported"] == 1
    time.sleep(0.5)
    assert _analysed(app) == (None, None)


def test_a_large_import_analyses_every_table_it_fills(app, samples, import_file):
    _pg_only(app)
    tables = ("listens", "tracks", "albums", "album_artists", "artists", "track_play_totals", "artist_play_totals",
              "listen_buckets", "track_period_plays", "group_period_plays", "month_quarter_plays")
    with app.app_context():
        for table in tables:
            db.session.execute(text(f"SELECT pg_stat_reset_single_table_counters('{table}'::regclass)"))
        db.session.commit()
    assert import_file(samples / "recenttracks-alice-1700000000.csv")["imported"] == 10
    _analysed(app)  # waits for the statistics collector
    with app.app_context():
        analysed = dict(db.session.execute(text(
            "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = ANY(:tables)"),
            {"tables": list(tables)}).all())
    assert analysed == {table: True for table in tables}


def test_refresh_statistics_does_nothing_on_sqlite_or_without_new_plays(app):
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert pipeline.refresh_statistics(db.engine, 1_000) is False
            stat_tables = text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            assert db.session.execute(stat_tables).scalar() == 0
        assert pipeline.refresh_statistics(db.engine, 0) is False
