"""Listening time counts each play's own length when the source gave it, else the track's length, and says how
many plays had neither; the all-time rollup and the period query agree, and stay exact."""
from __future__ import annotations

import json

from sqlalchemy import text

from aime.extensions import db
from aime.services import rollups

from .conftest import get_ok


def _import(app, path):
    from aime.jobs import imports

    with app.app_context():
        return imports.run_job(imports.create_file_job(path, None))


def test_listened_time_first_then_track_length_then_counted_as_unknown(app, client, tmp_path):
    # Maloja: `duration` is what was listened, `track.length` the track's length.
    scrobbles = [
        {"time": 1704067200, "duration": 100, "track": {"artists": ["A"], "title": "Heard 100 of 240", "length": 240}},
        {"time": 1704070800, "track": {"artists": ["A"], "title": "Length 200 only", "length": 200}},
        {"time": 1704074400, "track": {"artists": ["B"], "title": "Nothing known"}},
        {"time": 1704078000, "duration": 50, "track": {"artists": ["B"], "title": "Nothing known"}},
    ]
    path = tmp_path / "maloja.json"
    path.write_text(json.dumps({"maloja": {"export_time": 1704100000}, "scrobbles": scrobbles}))
    assert _import(app, path)["imported"] == 4
    # 100 (own) + 200 (track length) + 0 (neither) + 50 (own) = 350 s; one play had neither.
    for params in ({}, {"start_date": "2024-01-01", "end_date": "2024-01-01"}):
        stats = get_ok(client, "/api/v1/history/stats", **params)
        assert (stats["total_tracks"], stats["total_duration_seconds"], stats["plays_without_duration"]) == \
            (4, 350, 1), params
    page = client.get("/stats", query_string={"start_date": "2024-01-01", "end_date": "2024-01-01"})
    assert page.status_code == 200
    assert "6 min</span> listened · 1 play of unknown length not counted" in page.get_data(as_text=True)
    artists = get_ok(client, "/api/v1/history/top/artists", by="duration")["items"]
    assert [(a["name"], a["duration_seconds"]) for a in artists] == [("A", 300), ("B", 50)]
    with app.app_context():
        before = sorted(tuple(r) for r in db.session.execute(text("SELECT * FROM track_play_totals")))
        rollups.rebuild()
        assert sorted(tuple(r) for r in db.session.execute(text("SELECT * FROM track_play_totals"))) == before
