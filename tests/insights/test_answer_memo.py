"""Statistics and timelines kept per worker while the data version is unchanged (aime/services/answer_memo.py):
a repeated question is answered without a query, and every write is visible to the next read."""
from __future__ import annotations

import threading
import time
from datetime import date

from sqlalchemy import text

from aime.extensions import db
from aime.models import Track
from aime.services import data_version, rollups, stats
from aime.services import history as history_service
from aime.services.answer_memo import memo_of_app

from .conftest import get_ok

STATS = "/api/v1/history/stats"
JAN = {"start_date": "2024-01-01", "end_date": "2024-01-31", "tz": "UTC"}


def _memo(app):
    with app.app_context():
        return memo_of_app()


def test_a_repeated_question_is_answered_from_the_memo(app, client, history):
    first = get_ok(client, STATS, **JAN)
    memo = _memo(app)
    hits = memo.hits
    # The HTTP response cache (aime/api/conditional.py) would answer the same URL before the service is asked:
    # emptied, as after an eviction or for the same question spelt with its parameters in another order.
    app.extensions.pop("aime.response_cache", None)
    assert get_ok(client, STATS, **JAN) == first
    assert memo.hits == hits + 1
    # January 2024 UTC: p1-p9 and p11 (p10 is in July) = 10 plays.
    assert first["total_tracks"] == 10


def test_a_new_play_is_in_the_next_answer(client, auth, history):
    assert get_ok(client, STATS, **JAN)["total_tracks"] == 10
    response = client.post("/api/v1/history/tracks", headers=auth, json={
        "artist": "Beta", "title": "Beta One", "album": "Album B", "duration_seconds": 240,
        "played_at": "2024-01-20T12:00:00Z"})
    assert response.status_code == 201
    after = get_ok(client, STATS, **JAN)
    assert after["total_tracks"] == 11
    assert after["top_artists"][0]["name"] == "Alpha"  # 5 plays against Beta's 4
    assert [a["plays"] for a in after["top_artists"][:2]] == [5, 4]


def test_a_deleted_play_and_a_loved_track_are_in_the_next_answer(app, client, history):
    day = {"date": "2024-01-07", "tz": "UTC"}  # p7 (A2) and p8 (A1)
    before = get_ok(client, "/api/v1/history/timeline", **day)
    assert before["stats"]["total_tracks"] == 2
    assert [i["loved"] for i in before["hours"]["9"]] == [False, False]
    with app.app_context():
        db.session.execute(db.update(Track).where(Track.id == history["A2"]).values(loved=True))
        db.session.commit()
    loved = get_ok(client, "/api/v1/history/timeline", **day)
    assert [i["loved"] for i in loved["hours"]["9"]] == [True, False]
    with app.app_context():  # another writer, in SQL: only the data version tells the memo
        db.session.execute(text("DELETE FROM listens WHERE track_id = :t AND played_at = :at"),
                           {"t": history["A1"], "at": 1704620400})  # 2024-01-07T09:40Z
        db.session.commit()
    after = get_ok(client, "/api/v1/history/timeline", **day)
    assert after["stats"]["total_tracks"] == 1
    assert [i["title"] for i in after["hours"]["9"]] == ["Alpha Two"]


def test_an_answer_changed_by_its_caller_is_not_the_next_answer(app, history):
    config = app.extensions["aime.config"]
    with app.app_context():
        first = stats.history_stats(config, date(2024, 1, 1), date(2024, 1, 31), "UTC")
        first["top_artists"][0]["plays"] = 999
        first["total_tracks"] = -1
        again = stats.history_stats(config, date(2024, 1, 1), date(2024, 1, 31), "UTC")
        assert again["total_tracks"] == 10
        assert again["top_artists"][0]["plays"] == 5
        day = history_service.timeline(config, date(2024, 1, 7), "UTC")
        day["hours"]["9"].clear()
        assert len(history_service.timeline(config, date(2024, 1, 7), "UTC")["hours"]["9"]) == 2


def test_uncommitted_changes_of_the_session_are_never_answered_from_the_memo(app, history):
    config = app.extensions["aime.config"]
    with app.app_context():
        stats.history_stats(config, date(2024, 1, 1), date(2024, 1, 31), "UTC")
        memo = memo_of_app()
        hits, misses = memo.hits, memo.misses
        db.session.get(Track, history["A1"]).loved = True  # pending in the session, not committed
        stats.history_stats(config, date(2024, 1, 1), date(2024, 1, 31), "UTC")
        assert (memo.hits, memo.misses) == (hits, misses)  # computed, not looked up
        db.session.rollback()


def test_a_rollup_rebuild_changes_the_data_version(app, history):
    with app.app_context():
        before = data_version.current()
        rollups.rebuild()
        assert data_version.current() != before


def _asking_at_once(app, monkeypatch, threads: int, fail_first: bool = False):
    """`threads` threads ask January 2024 while the first computation is held until the others wait for it (or
    compute it too); returns (computations, answers or errors)."""
    config = app.extensions["aime.config"]
    real, release, computations = stats._history_stats, threading.Event(), []

    def held(p, limit):
        computations.append(threading.get_ident())
        if len(computations) == 1:
            assert release.wait(30)
            if fail_first:
                raise RuntimeError("the first computation failed")
        return real(p, limit)

    monkeypatch.setattr(stats, "_history_stats", held)
    with app.app_context():
        memo = memo_of_app()
    waits_before, results = getattr(memo, "waits", 0), [None] * threads

    def ask(i: int) -> None:
        with app.app_context():
            try:
                results[i] = stats.history_stats(config, date(2024, 1, 1), date(2024, 1, 31), "UTC")
            except RuntimeError as error:
                results[i] = error

    workers = [threading.Thread(target=ask, args=(i,)) for i in range(threads)]
    workers[0].start()
    _until(lambda: len(computations) == 1)
    for worker in workers[1:]:
        worker.start()
    # Every other thread is either waiting for the first computation or (without single flight) computing.
    _until(lambda: getattr(memo, "waits", 0) - waits_before + len(computations) == threads)
    release.set()
    for worker in workers:
        worker.join(30)
    return computations, results


def _until(condition) -> None:
    """Wait (up to 30 s) for `condition`, which other threads make true; a synchronisation, not a timing."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the threads did not get there"
        time.sleep(0.005)


def test_threads_asking_the_same_cold_question_compute_it_once(app, history, monkeypatch):
    computations, results = _asking_at_once(app, monkeypatch, threads=4)
    assert len(computations) == 1
    assert [r["total_tracks"] for r in results] == [10, 10, 10, 10]
    assert [[a["plays"] for a in r["top_artists"]] for r in results] == [[5, 3, 1, 1]] * 4
    results[1]["total_tracks"] = -1  # each thread got its own copy
    assert results[2]["total_tracks"] == 10


def test_when_the_computation_fails_the_waiting_threads_compute_it(app, history, monkeypatch):
    computations, results = _asking_at_once(app, monkeypatch, threads=3, fail_first=True)
    assert isinstance(results[0], RuntimeError)
    assert [r["total_tracks"] for r in results[1:]] == [10, 10]
    assert len(computations) in (2, 3)  # the two waiters: one after the other, or at once
