"""Every shared sample imports with the README's counts, twice without change, and across formats."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from aime.extensions import db
from aime.models import Album, Artist, Listen, Track

# file -> (format, listens or albums imported, skipped rows)
SAMPLES = {
    "lastfm-to-csv_alice.csv": ("lastfm-csv", 10, 0),
    "recenttracks-alice-1700000000.csv": ("lastfm-ghan-csv", 10, 0),
    "recenttracks-alice-1700000000.json": ("lastfm-json", 10, 0),
    "Streaming_History_Audio_2023.json": ("spotify-extended", 9, 2),
    "StreamingHistory_music_0.json": ("spotify-basic", 10, 0),
    "listenbrainz_alice_1700000000.zip": ("listenbrainz-zip", 10, 0),
    "alice_lb-2023-11-14.json": ("listenbrainz-json", 10, 0),
    "maloja_export_20231114.json": ("maloja", 10, 0),
    "alice-collection-20231114-1200.csv": ("discogs-csv", 5, 0),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_imports_with_readme_counts_and_twice_adds_nothing(name, samples, import_file):
    fmt, expected, skipped = SAMPLES[name]
    first = import_file(samples / name)
    assert (first["status"], first["format"], first["imported"], first["duplicates"]) == ("done", fmt, expected, 0)
    assert first["processed"] == expected + skipped and len(first["skipped"]) == skipped and first["errors"] == []
    second = import_file(samples / name)
    assert (second["status"], second["imported"], second["duplicates"]) == ("done", 0, expected)


def test_all_second_precision_histories_add_nothing_after_the_minute_csv(samples, import_file, count_listens):
    assert import_file(samples / "lastfm-to-csv_alice.csv")["imported"] == 10
    for name in ("recenttracks-alice-1700000000.json", "recenttracks-alice-1700000000.csv",
                 "alice_lb-2023-11-14.json", "listenbrainz_alice_1700000000.zip", "maloja_export_20231114.json",
                 "Streaming_History_Audio_2023.json"):
        report = import_file(samples / name)
        assert report["imported"] == 0, name
        assert report["duplicates"] == SAMPLES[name][1], name
    assert count_listens() == 10


def test_spotify_extended_uses_stop_time_minus_played_and_reports_skips(app, samples, import_file):
    report = import_file(samples / "Streaming_History_Audio_2023.json")
    assert report["skipped"] == [{"line": 227, "reason": "played 5 s, under 30 s (a skip)"},
                                 {"line": 252, "reason": "podcast episode (Some Podcast), not music"}]
    with app.app_context():
        played = db.session.scalar(select(Listen.played_at).join(Track).where(Track.title == "Paranoid Android"))
    assert played == 1699650251  # 2023-11-10T21:07:31Z - 200 s = the time every other export gives


def test_spotify_basic_has_no_album_and_starts_before_end_time(app, samples, import_file):
    import_file(samples / "StreamingHistory_music_0.json")
    with app.app_context():
        rows = db.session.execute(select(Track.title, Track.album_id, Listen.played_at).join(Listen)
                                  .order_by(Listen.played_at)).all()
    assert all(album is None for _t, album, _p in rows)
    assert rows[0] == ("Paranoid Android", None, 1699650420 - 180)  # endTime 21:07 minus 180 000 ms


def test_repeat_play_five_minutes_apart_is_kept_and_loose_track_has_no_album(app, samples, import_file):
    import_file(samples / "recenttracks-alice-1700000000.csv")
    with app.app_context():
        repeats = db.session.scalars(select(Listen.played_at).join(Track).where(Track.title == "One More Time")
                                     .order_by(Listen.played_at)).all()
        loose = db.session.scalar(select(Track).where(Track.title == "Feeling Good"))
        albums = db.session.scalars(select(Album.title).order_by(Album.title)).all()
    assert repeats == [1699963200, 1699963520]
    assert loose.album_id is None
    assert set(albums) == {"( )", "Déjà Vu", "Discovery", "Homogenic", "Kind of Blue", "OK Computer"}


def test_listenbrainz_feedback_marks_joga_loved(app, samples, import_file):
    import_file(samples / "listenbrainz_alice_1700000000.zip")
    with app.app_context():
        loved = db.session.scalars(select(Track.title).where(Track.loved.is_(True))).all()
    assert loved == ["Jóga"]


def test_discogs_collection_fields(app, samples, import_file):
    import_file(samples / "lastfm-to-csv_alice.csv")  # "Kind of Blue" known from listening is adopted
    report = import_file(samples / "alice-collection-20231114-1200.csv")
    assert report["imported"] == 5
    with app.app_context():
        albums = {a.title: a for a in db.session.scalars(select(Album).where(Album.in_collection.is_(True)))}
        various = db.session.scalar(select(Artist).where(Artist.name == "Various"))
        assert set(albums) == {"OK Computer", "Homogenic", "Kind of Blue", "Déjà Vu", "Late Night Tales"}
        tales = albums["Late Night Tales"]
        assert (tales.year, tales.labels, tales.catalog_number, tales.discogs_id, tales.support) == \
            (None, ["Night Time Stories"], None, 5678901, "Vinyle")
        assert tales.primary_artist_id == various.id
        ok = albums["OK Computer"]
        assert (ok.year, ok.support, ok.labels, ok.catalog_number, ok.discogs_id) == \
            (1997, "Vinyle", ["Parlophone"], "NPG 001", 1234567)
        assert albums["Homogenic"].support == "CD"
        assert albums["Déjà Vu"].artists[0].name == "Crosby, Stills, Nash & Young"
