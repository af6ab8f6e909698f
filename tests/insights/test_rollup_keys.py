"""On PostgreSQL the per-track rollups have no foreign key (migration 0022; SQLite keeps them): a track's rows go
with it all the same, through the track merges of an import, an album's removal and the migration itself, and stay
equal to a recount, on both backends."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from aime.jobs import imports

from .conftest import post_plays
from .test_rollups import _recount, _state

# 2024-01-05 10:00Z and 2024-02-10 10:00Z: UTC months 648 and 649 ((2024 - 1970) * 12 + 0 / 1), year 54.
T1, T2 = 1704448800, 1707559200
ROLLUP_TABLES = ("track_play_totals", "track_period_plays")


def _track_rows(db) -> tuple[list, list]:
    totals = db.session.execute(text("SELECT track_id, plays, first_played_at, last_played_at FROM track_play_totals "
                                     "ORDER BY track_id")).all()
    periods = db.session.execute(text("SELECT level, unit, track_id, plays FROM track_period_plays "
                                      "ORDER BY level, unit, track_id")).all()
    return [tuple(r) for r in totals], [tuple(r) for r in periods]


def _groups(db) -> list[tuple]:
    return [tuple(r) for r in db.session.execute(text(
        "SELECT kind, level, unit, key_id, title_key, plays FROM group_period_plays "
        "ORDER BY kind, level, unit, key_id, title_key"))]


def _spotify_file(tmp_path, played_at: int, album: str):
    # Spotify's ts is when the play ended: it started ms_played earlier.
    entry = {"ts": datetime.fromtimestamp(played_at + 180, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "ms_played": 180_000,
             "master_metadata_track_name": "Song", "master_metadata_album_artist_name": "Artist",
             "master_metadata_album_album_name": album, "spotify_track_uri": None, "reason_end": "trackdone",
             "skipped": False}
    path = tmp_path / "Streaming_History_Audio_2024.json"
    path.write_text(json.dumps([entry]))
    return path


def test_a_track_merged_by_an_import_leaves_no_rollup_row(app, db, client, auth, tmp_path):
    """Two album-less plays; an import tells the album of the second: both move to the album's track and the
    album-less track is deleted (importers.enrich.merge_tracks), its rows with it."""
    for at in (T1, T2):
        response = client.post("/api/v1/history/tracks", headers=auth, json={
            "artist": "Artist", "title": "Song", "played_at": datetime.fromtimestamp(at, UTC).isoformat()})
        assert response.status_code == 201, response.get_json()
    loose = db.session.scalar(text("SELECT id FROM tracks"))
    assert _track_rows(db)[0] == [(loose, 2, T1, T2)]
    db.session.remove()
    with app.app_context():
        imports.run_job(imports.create_file_job(_spotify_file(tmp_path, T2, "Album"), None))
    (album_track,) = db.session.scalars(text("SELECT id FROM tracks")).all()
    assert album_track != loose
    assert _track_rows(db) == ([(album_track, 2, T1, T2)],
                               [(2, 648, album_track, 1), (2, 649, album_track, 1), (3, 54, album_track, 2),
                                (4, 0, album_track, 2)])
    album = db.session.scalar(text("SELECT id FROM albums"))
    artist = db.session.scalar(text("SELECT id FROM artists"))
    # Everything, the artist, the album and the song: January, February, 2024 and all time each.
    units = [(2, 648, 1), (2, 649, 1), (3, 54, 2), (4, 0, 2)]
    assert _groups(db) == sorted([(0, level, unit, 0, "", n) for level, unit, n in units]
                                 + [(1, level, unit, artist, "", n) for level, unit, n in units]
                                 + [(2, level, unit, album, "", n) for level, unit, n in units]
                                 + [(3, level, unit, artist, "song", n) for level, unit, n in units])
    assert _state(db) == _recount(db)


def test_removing_an_album_keeps_its_played_tracks_rows_exact(db, client, auth):
    """Album A's played tracks stay album-less (A1 folded into an album-less twin, its rows recounted onto it);
    its unplayed track goes."""
    ids = post_plays(client, auth, [("A1", "2024-01-05T22:40:00Z"), ("A2", "2024-01-05T22:45:00Z")])
    twin = post_plays(client, auth, [("A1", "2024-01-07T09:40:00Z")])  # same song, no album: a second track
    response = client.post("/api/v1/history/tracks", headers=auth, json={
        "artist": "Alpha", "title": "Alpha One", "played_at": "2024-01-08T09:40:00Z"})
    loose = response.get_json()["track_id"]
    assert loose != ids["A1"] and twin["A1"] == ids["A1"]
    album = db.session.scalar(text("SELECT id FROM albums WHERE title = 'Album A'"))
    db.session.remove()
    assert client.delete(f"/api/v1/collection/albums/{album}", headers=auth).status_code == 204
    totals, periods = _track_rows(db)
    # A1's three plays (5 and 7 January on the album, 8 January without) are on the album-less track now.
    assert [t[:2] for t in totals] == sorted([(loose, 3), (ids["A2"], 1)])
    assert {p[2] for p in periods} == {loose, ids["A2"]}
    assert [p for p in periods if p[2] == loose] == [(2, 648, loose, 3), (3, 54, loose, 3), (4, 0, loose, 3)]
    assert _state(db) == _recount(db)


def _foreign_keys(db) -> dict[str, list]:
    inspector = sa.inspect(db.engine)
    return {table: [(fk["referred_table"], fk["options"].get("ondelete")) for fk in inspector.get_foreign_keys(table)]
            for table in ROLLUP_TABLES}


def test_migration_0022_drops_the_keys_on_postgresql_keeps_the_rows_and_downgrades(app, db, client, auth):
    post_plays(client, auth)
    kept = _track_rows(db), _state(db)
    keyed = {"track_play_totals": [("tracks", "CASCADE")], "track_period_plays": [("tracks", "CASCADE")]}
    at_head = keyed if db.engine.dialect.name == "sqlite" else {"track_play_totals": [], "track_period_plays": []}
    assert _foreign_keys(db) == at_head
    db.session.remove()
    downgrade(revision="0021_group_period_plays")
    db.engine.dispose()
    assert _foreign_keys(db) == keyed
    assert (_track_rows(db), _state(db)) == kept
    db.session.remove()
    upgrade()
    db.engine.dispose()
    assert _foreign_keys(db) == at_head
    assert (_track_rows(db), _state(db)) == kept
    # The trigger does what the cascade does: an unplayed track's stray rows (written by hand here) go with it.
    track = db.session.scalar(text("INSERT INTO tracks (title, title_key, artist_id, loved, created_at) "
                                   "SELECT 'X', 'x', MIN(id), false, 0 FROM artists RETURNING id"))
    db.session.execute(text("INSERT INTO track_play_totals (track_id, plays, first_played_at, last_played_at) "
                            "VALUES (:t, 1, 5, 5)"), {"t": track})
    db.session.execute(text("INSERT INTO track_period_plays (level, unit, track_id, plays) VALUES (2, 0, :t, 1)"),
                       {"t": track})
    db.session.execute(text("DELETE FROM tracks WHERE id = :t"), {"t": track})
    db.session.commit()
    assert _track_rows(db) == kept[0]
