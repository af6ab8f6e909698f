"""Deep pages of the whole journal start at the UTC month holding their first row (month_quarter_plays) instead of
walking the index from the newest play: every page answers byte for byte what OFFSET from the top answered."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from aime.api import conditional
from aime.extensions import db
from aime.services import history
from bench import make_dataset
from tests.factories import add_listen

PLAYS = 2_500


@pytest.fixture
def generated(app, runner, tmp_path):
    """2,500 generated plays over 15 years (bench/make_dataset.py, seed 7), imported as a Last.fm CSV."""
    meta = make_dataset.write(PLAYS, tmp_path / "data", seed=7)
    result = runner.invoke(args=["import", str(tmp_path / "data" / meta["files"]["csv"])])
    assert result.exit_code == 0, result.output
    return meta


def _bodies(client, app, paths: list[str], seek_from: int, monkeypatch) -> dict[str, bytes]:
    monkeypatch.setattr(history, "SEEK_FROM", seek_from)
    found = {}
    for path in paths:
        conditional.response_cache(app)._entries.clear()  # noqa: SLF001 - every read computed
        response = client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        found[path] = response.get_data()
    return found


def _paths(total: int) -> list[str]:
    sizes = {50: (1, 2, 41, 49, total // 50, total // 50 + 1, total // 50 + 2),
             7: (1, 300, (total + 6) // 7, (total + 6) // 7 + 1), 1: (1, 1_000, total, total + 1)}
    return [f"/api/v1/history/tracks?page={page}&page_size={size}" for size, pages in sizes.items() for page in pages]


def test_deep_pages_start_at_their_month_and_match_offset_from_the_top(app, client, auth, backend, generated,
                                                                       monkeypatch):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only (SQLite walks its index faster than the month sums are read)")
    paths = _paths(PLAYS)
    offset = _bodies(client, app, paths, 10**9, monkeypatch)
    seek = _bodies(client, app, paths, 0, monkeypatch)
    assert seek == offset
    last = client.get(f"/api/v1/history/tracks?page={PLAYS}&page_size=1").get_json()
    assert last["total"] == PLAYS and len(last["items"]) == 1
    assert client.get(f"/api/v1/history/tracks?page={PLAYS + 1}&page_size=1").get_json()["items"] == []
    # A play back-dated into an old month moves every page after it: the months' sums move with it.
    with app.app_context():
        oldest = db.session.execute(sa.text("SELECT min(played_at), max(played_at) FROM listens")).one()
    moment = datetime.fromtimestamp((oldest[0] + oldest[1]) // 2, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    add_listen(client, auth, "Björk", "Hunter", moment, album="Homogenic")
    paths = _paths(PLAYS + 1)
    offset = _bodies(client, app, paths, 10**9, monkeypatch)
    assert _bodies(client, app, paths, 0, monkeypatch) == offset
    assert client.get("/api/v1/history/tracks?page=1&page_size=1").get_json()["total"] == PLAYS + 1


def test_the_seek_reads_months_not_the_whole_index(app, client, backend, generated, monkeypatch):
    monkeypatch.setattr(history, "SEEK_FROM", 0)
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        body = client.get("/api/v1/history/tracks?page=40&page_size=50").get_json()
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert len(body["items"]) == 50
    page = next(statement for statement in seen if "ORDER BY listens.played_at DESC" in statement)
    if backend == "postgresql":
        assert any("month_quarter_plays" in statement for statement in seen) and "listens.played_at <" in page
    else:  # SQLite: OFFSET from the top
        assert not any("month_quarter_plays" in statement for statement in seen)
        assert "listens.played_at <" not in page
