"""The statements of a statistic have the same text whatever the number of candidates: each connection keeps its
last prepared statements (128 in sqlite3, 100 in psycopg), and a text per count of ids made a worker's memory grow
with every new count (the soak test of tests/resilience/test_gunicorn_load.py measured +37 %)."""
from __future__ import annotations

from tests.support.statements import statement_texts

from .conftest import get_ok


def _statements_of_all_time_stats(app, client) -> set[str]:
    """The SQL texts sent while the all-time statistics are computed afresh."""
    with statement_texts(app) as sent:
        answer = get_ok(client, "/api/v1/history/stats")
    assert answer["total_tracks"] == len(answer["top_artists"])  # one play each, every artist tied
    return sent


def _play(client, auth, n: int) -> None:
    response = client.post("/api/v1/history/tracks", headers=auth, json={
        "artist": f"Artist {n}", "title": f"Song {n}", "album": f"Album {n}",
        "played_at": f"2024-03-{n:02d}T12:00:00Z"})
    assert response.status_code == 201, response.get_json()


def test_the_statements_of_a_statistic_do_not_change_with_the_number_of_candidates(app, client, auth):
    for n in (1, 2):
        _play(client, auth, n)
    two = _statements_of_all_time_stats(app, client)  # 2 tied artists, albums and songs: 2 candidates each
    for n in range(3, 8):
        _play(client, auth, n)
    seven = _statements_of_all_time_stats(app, client)  # 7 of each (a new data version: computed again)
    assert seven - two == set()  # no statement text of its own for 7 candidates
    assert any("group_period_plays" in statement for statement in seven)  # the rollup path was the one taken
