"""Exporting the history (ListenBrainz zip, JSON Lines, Last.fm CSV) and importing it back loses nothing."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from aime import create_app
from aime.extensions import db
from aime.models import Album, Artist, Listen, Track
from aime.jobs import imports, tasks
from aime.services import history_export

from ..conftest import make_config, upgrade
from ..importers.conftest import SAMPLES

REC = "0f3c3b1a-1111-4a4a-8b8b-000000000001"
REL = "0f3c3b1a-2222-4a4a-8b8b-000000000002"
ART = "0f3c3b1a-3333-4a4a-8b8b-000000000003"


def _import(app, path: Path) -> dict:
    with app.app_context():
        return imports.run_job(imports.create_file_job(path, None))


def _plays(app) -> list[tuple]:
    """Everything an export should carry, per play, in time order."""
    with app.app_context():
        return [tuple(r) for r in db.session.execute(
            select(Listen.played_at, Artist.name, Track.title, Album.title, Track.loved, Track.duration_seconds,
                   Listen.listened_seconds, Track.recording_mbid, Album.release_mbid, Artist.artist_mbid,
                   Track.spotify_uri)
            .join(Track, Track.id == Listen.track_id).join(Artist, Artist.id == Track.artist_id)
            .outerjoin(Album, Album.id == Track.album_id).order_by(Listen.played_at, Track.title))]


@pytest.fixture
def fresh(tmp_path):
    """Another, empty AIME (SQLite) to import exports into."""
    made = []

    def make(name: str):
        config = make_config(tmp_path / name)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        other = create_app(config)
        upgrade(other)
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def history(app, tmp_path):
    """The ten sample plays from ListenBrainz (Jóga loved), then Spotify's extended export (listened time, URIs),
    plus one play with MusicBrainz ids and a length and another in the same second."""
    _import(app, SAMPLES / "listenbrainz_alice_1700000000.zip")
    _import(app, SAMPLES / "Streaming_History_Audio_2023.json")
    extra = tmp_path / "mbids.json"
    extra.write_text(json.dumps([{"listened_at": 1700000000, "track_metadata": {
        "artist_name": "Björk", "track_name": "Hunter", "release_name": "Homogenic",
        "additional_info": {"duration_ms": 255000, "recording_mbid": REC, "release_mbid": REL,
                            "artist_mbids": [ART]}}},
        {"listened_at": 1700000000, "track_metadata": {"artist_name": "Björk", "track_name": "Bachelorette"}}]))
    _import(app, extra)
    return _plays(app)


def _download(client, tmp_path, fmt: str, **params) -> Path:
    response = client.get("/api/v1/history/export", query_string={"format": fmt, **params})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.is_streamed
    assert response.headers["Content-Type"] == history_export.FORMATS[fmt][1]
    ext = history_export.FORMATS[fmt][0]
    assert response.headers["Content-Disposition"].startswith('attachment; filename="aime-history-')
    path = tmp_path / f"export.{ext}"
    path.write_bytes(response.get_data())
    return path


def test_listenbrainz_zip_round_trip_keeps_plays_times_loves_lengths_and_ids(app, client, history, tmp_path, fresh):
    assert len(history) == 12
    joga = next(p for p in history if p[2] == "Jóga")
    assert joga[4] is True and joga[6] == 202 and joga[10] == "spotify:track:0000000000000000000002"
    hunter = next(p for p in history if p[2] == "Hunter")
    assert hunter[5:] == (255, None, REC, REL, ART, None)
    path = _download(client, tmp_path, "listenbrainz")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["feedback.jsonl", "listens/2023/11.jsonl", "user.json"]
        assert len(archive.read("listens/2023/11.jsonl").decode().splitlines()) == 12
        assert len(archive.read("feedback.jsonl").decode().splitlines()) == 1  # Jóga
    empty = fresh("empty")
    report = _import(empty, path)
    assert (report["format"], report["imported"], report["duplicates"], report["errors"]) == (
        "listenbrainz-zip", 12, 0, [])
    assert _plays(empty) == history
    again = _import(app, path)  # back into the source: nothing new, nothing changed, nothing disagreeing
    assert (again["imported"], again["duplicates"], again["enriched"], again["conflicts"]) == (0, 12, 0, [])
    assert _plays(app) == history


def test_jsonl_and_csv_round_trip_what_their_formats_carry(app, client, history, tmp_path, fresh):
    lines = _download(client, tmp_path, "jsonl")
    first = json.loads(lines.read_text().splitlines()[0])
    assert (first["listened_at"], first["track_metadata"]["track_name"]) == (1699650251, "Paranoid Android")
    into = fresh("jsonl")
    assert _import(into, lines)["imported"] == 12
    assert _plays(into) == [p[:4] + (False,) + p[5:] for p in history]  # loves travel in the zip's feedback only
    table = _download(client, tmp_path, "csv")
    text = table.read_text()
    assert text.splitlines()[0] == "uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid"
    assert f"1700000000,\"14 Nov 2023, 22:13\",Björk,{ART},Homogenic,{REL},Hunter,{REC}" in text.splitlines()[1:3]
    assert [int(line.split(",")[0]) for line in text.splitlines()[1:]] == sorted((p[0] for p in history), reverse=True)
    into = fresh("csv")
    assert _import(into, table)["imported"] == 12
    # The CSV layout has times, names and MusicBrainz ids; no loves, lengths or Spotify URIs.
    assert _plays(into) == [p[:4] + (False, None, None) + p[7:10] + (None,) for p in history]
    assert (_import(app, table)["imported"], _import(app, lines)["imported"]) == (0, 0)


def test_period_filter_and_paging_by_time_then_id(app, client, history, tmp_path, monkeypatch):
    monkeypatch.setattr(history_export, "PAGE", 3)  # many pages, some boundaries inside one second
    path = _download(client, tmp_path, "jsonl", start_date="2023-11-14", end_date="2023-11-14")
    times = [json.loads(line)["listened_at"] for line in path.read_text().splitlines()]
    assert times == [p[0] for p in history if 1699920000 <= p[0] < 1700006400]
    assert len(times) == 6  # 14 Nov UTC: Freddie Freeloader .. the two plays of 22:13:20
    whole = _download(client, tmp_path, "csv")
    assert len(whole.read_text().splitlines()) == 13


@pytest.mark.parametrize("params, field", [({"format": "xml"}, "format"), ({"start_date": "2024-13-01"}, "start_date"),
                                           ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, "end_date")])
def test_bad_export_parameters_are_a_422_naming_the_field(client, params, field):
    response = client.get("/api/v1/history/export", query_string=params)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_cli_and_scheduled_task_write_the_zip(app, runner, history, tmp_path):
    target = tmp_path / "out" / "history.csv"
    target.parent.mkdir()
    result = runner.invoke(args=["export-history", str(target)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"history exported: {target} (csv, ")
    assert len(target.read_text().splitlines()) == 13
    assert list(target.parent.iterdir()) == [target]  # no partial file left
    run = tasks.run_task(app, "export_history", "cli")
    assert run["status"] == "success" and run["output_file"].endswith(".zip")
    folder = tasks.output_dir(app.extensions["aime.config"])
    with zipfile.ZipFile(folder / run["output_file"]) as archive:
        assert len(archive.read("listens/2023/11.jsonl").splitlines()) == 12
    assert sorted(p.name for p in folder.iterdir()) == [run["output_file"]]
