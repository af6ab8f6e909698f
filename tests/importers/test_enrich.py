"""A play that comes again with more (album, length, ids, listened time) completes what is stored, adds no play."""
from __future__ import annotations

import json
import re

from sqlalchemy import func, select, text

from aime.extensions import db
from aime.models import Album, Artist, Listen, Track
from aime.services import rollups


def _rollups(app) -> dict:
    with app.app_context():
        return {table: sorted(tuple(r) for r in db.session.execute(text(f"SELECT * FROM {table}")))
                for table in ("listen_buckets", "track_play_totals", "artist_play_totals", "track_period_plays")}


def _tracks(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(Artist.name, Track.title, Album.title, Track.spotify_uri, func.count(Listen.id))
            .join(Artist, Artist.id == Track.artist_id).outerjoin(Album, Album.id == Track.album_id)
            .outerjoin(Listen, Listen.track_id == Track.id)
            .group_by(Artist.name, Track.title, Album.title, Track.spotify_uri, Track.id)
            .order_by(Artist.name, Track.title, Album.title)).all()


def test_basic_then_extended_spotify_attaches_every_album_without_adding_a_play(app, samples, import_file,
                                                                                 count_listens):
    basic = import_file(samples / "StreamingHistory_music_0.json")
    assert (basic["imported"], basic["enriched"]) == (10, 0)
    extended = import_file(samples / "Streaming_History_Audio_2023.json")
    assert (extended["imported"], extended["duplicates"], extended["enriched"]) == (0, 9, 9)
    assert count_listens() == 10
    # Each song is on one album only, so its album-less track was merged into the album's track: no loose track
    # is left except Nina Simone's, whom the extended file does not mention.
    assert _tracks(app) == [
        ("Björk", "Jóga", "Homogenic", "spotify:track:0000000000000000000002", 1),
        ("Crosby, Stills, Nash & Young", "Teach Your Children", "Déjà Vu", "spotify:track:0000000000000000000004", 1),
        ("Daft Punk", "One More Time", "Discovery", "spotify:track:0000000000000000000008", 2),
        ("Miles Davis", "Freddie Freeloader", "Kind of Blue", "spotify:track:0000000000000000000006", 1),
        ("Miles Davis", "So What", "Kind of Blue", "spotify:track:0000000000000000000005", 1),
        ("Nina Simone", "Feeling Good", None, None, 1),
        ("Radiohead", "Karma Police", "OK Computer", "spotify:track:0000000000000000000001", 1),
        ("Radiohead", "Paranoid Android", "OK Computer", "spotify:track:0000000000000000000000", 1),
        ("Sigur Rós", "Untitled #1", "( )", "spotify:track:0000000000000000000003", 1),
    ]
    # Conflicts are reported, the stored value kept: the basic export said 180 s listened, the extended one
    # 200-209 s; the two Daft Punk plays carry two different Spotify URIs for one track.
    fields = sorted((c["field"], c["stored"], c["file"]) for c in extended["conflicts"])
    assert ("spotify_uri", "spotify:track:0000000000000000000008", "spotify:track:0000000000000000000009") in fields
    assert [f for f in fields if f[0] == "listened_seconds"] == [
        ("listened_seconds", 180, v) for v in (200, 201, 202, 203, 204, 205, 206, 208, 209)]
    assert len(fields) == 10
    # The rollups stayed exact through the moves and merges.
    before = _rollups(app)
    with app.app_context():
        rollups.rebuild()
    assert _rollups(app) == before
    again = import_file(samples / "Streaming_History_Audio_2023.json")
    assert (again["imported"], again["enriched"], count_listens()) == (0, 0, 10)


def test_extended_then_basic_keeps_albums_and_fills_listened_time_only_where_empty(app, samples, import_file):
    import_file(samples / "Streaming_History_Audio_2023.json")
    report = import_file(samples / "StreamingHistory_music_0.json")
    assert (report["imported"], report["duplicates"]) == (1, 9)  # Nina Simone is only in the basic file
    with app.app_context():
        rows = db.session.execute(select(Track.title, Album.title, Listen.listened_seconds).join(Listen)
                                  .outerjoin(Album).where(Track.title == "Paranoid Android")).all()
    assert rows == [("Paranoid Android", "OK Computer", 200)]


def test_ids_and_lengths_from_listenbrainz_fill_empty_columns_and_report_disagreement(app, tmp_path, import_file):
    rec, rel, art = ("0f3c3b1a-1111-4a4a-8b8b-000000000001", "0f3c3b1a-2222-4a4a-8b8b-000000000002",
                     "0f3c3b1a-3333-4a4a-8b8b-000000000003")

    def listen(at, duration_ms, recording):
        return {"listened_at": at, "track_metadata": {
            "artist_name": "Björk", "track_name": "Jóga", "release_name": "Homogenic",
            "additional_info": {"duration_ms": duration_ms, "recording_mbid": recording, "release_mbid": rel,
                                "artist_mbids": [art], "spotify_id": "https://open.spotify.com/track/3MjUtNVVq3C8Fn0MP3zhXa",
                                "submission_client": "Navidrome"}}}

    first = tmp_path / "lb1.json"
    first.write_text(json.dumps([listen(1699690502, 305000, rec)]))
    second = tmp_path / "lb2.json"
    second.write_text(json.dumps([listen(1699690502, 300000, "0f3c3b1a-9999-4a4a-8b8b-000000000009")]))
    assert import_file(first)["imported"] == 1
    report = import_file(second)
    assert (report["imported"], report["duplicates"], report["enriched"]) == (0, 1, 0)
    assert sorted((c["field"], c["stored"], c["file"]) for c in report["conflicts"]) == [
        ("duration_seconds", 305, 300), ("recording_mbid", rec, "0f3c3b1a-9999-4a4a-8b8b-000000000009")]
    with app.app_context():
        track = db.session.scalar(select(Track))
        assert (track.duration_seconds, track.recording_mbid, track.spotify_uri) == (
            305, rec, "spotify:track:3MjUtNVVq3C8Fn0MP3zhXa")
        assert (track.album.release_mbid, track.artist.artist_mbid) == (rel, art)
        assert db.session.scalar(select(Listen.client)) == "Navidrome"


def test_maloja_after_listenbrainz_reports_no_client_conflict(samples, import_file, count_listens):
    """Maloja's origin "client:sample" is the client "sample" of the ListenBrainz export: it listed a conflict on
    every play of a file that otherwise agrees with what is stored."""
    assert import_file(samples / "listenbrainz_alice_1700000000.zip")["imported"] == 10
    maloja = import_file(samples / "maloja_export_20231114.json")
    assert (maloja["imported"], maloja["duplicates"], count_listens()) == (0, 10, 10)
    assert maloja["conflicts"] == []


def test_the_import_page_shows_what_was_completed_and_the_disagreements(samples, import_file, client):
    """The API reported enriched and conflicts; the import's page showed neither."""
    import_file(samples / "StreamingHistory_music_0.json")
    extended = import_file(samples / "Streaming_History_Audio_2023.json")
    html = client.get(f"/imports/{extended['id']}").get_data(as_text=True)
    assert '<dt>Completed</dt><dd data-field="enriched">9</dd>' in html
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html)
    # The ten disagreements of the basic-then-extended test above: nine listened times (180 s stored) and the
    # second Spotify URI of Daft Punk's track.
    assert len(rows) == 10
    assert sorted((field, stored, file) for _, _, field, stored, file in rows) == [
        ("listened_seconds", "180", str(v)) for v in (200, 201, 202, 203, 204, 205, 206, 208, 209)] + [
        ("spotify_uri", "spotify:track:0000000000000000000008", "spotify:track:0000000000000000000009")]
    assert ("Daft Punk – One More Time", "spotify_uri") in {(track, field) for _, track, field, _, _ in rows}
