"""Every export format parsed back: M3U with a reader written here, XSPF against its schema, CSV, JSON, text."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from .conftest import get_ok

XSD = Path(__file__).with_name("xspf-subset.xsd")
NS = {"x": "http://xspf.org/ns/0/"}
# Names chosen to break naive writers: quotes, commas, a newline, XML specials, accents.
TRICKY = [
    {"artist": 'The "Quoted", Band', "title": "Comma, Song", "album": "A & B <Live>", "duration_seconds": 245},
    {"artist": "Björk", "title": "Line one\nline two", "album": "Homogenic", "duration_seconds": 60},
    {"artist": "Nobody", "title": "No length"},
]


def read_m3u(text: str) -> list[dict]:
    """A small extended-M3U reader: #EXTINF:<seconds>,<artist> - <title> then a location line."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    entries, pending = [], None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            seconds, _, label = line[len("#EXTINF:"):].partition(",")
            artist, _, title = label.partition(" - ")
            pending = {"seconds": int(seconds), "artist": artist, "title": title}
        elif line.startswith("#") or not line.strip():
            continue
        else:
            assert pending is not None, f"location without #EXTINF: {line!r}"
            entries.append({**pending, "location": line})
            pending = None
    assert pending is None
    return entries


@pytest.fixture
def playlist(client, auth):
    """A manual playlist of the three tricky tracks."""
    ids = []
    for i, track in enumerate(TRICKY):
        response = client.post("/api/v1/history/tracks", headers=auth,
                               json={**track, "played_at": f"2024-02-0{i + 1}T10:00:00Z"})
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["track_id"])
    body = client.post("/api/v1/playlists", headers=auth, json={"name": 'Mix "one", two', "track_ids": ids})
    assert body.status_code == 201
    return body.get_json()


def _export(client, playlist_id, fmt):
    response = client.get(f"/api/v1/playlists/{playlist_id}/export", query_string={"format": fmt})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "attachment" in response.headers["Content-Disposition"]
    return response


def test_m3u_round_trip_with_search_urls(client, playlist):
    response = _export(client, playlist["id"], "m3u")
    assert response.mimetype == "audio/x-mpegurl"
    entries = read_m3u(response.get_data(as_text=True))
    assert [(e["seconds"], e["artist"], e["title"]) for e in entries] == [
        (245, 'The "Quoted", Band', "Comma, Song"), (60, "Björk", "Line one line two"), (-1, "Nobody", "No length")]
    query = parse_qs(urlsplit(entries[0]["location"]).query)
    assert query["query"] == ['The "Quoted", Band Comma, Song']


def test_m3u_paths_under_the_music_library(app, client, playlist):
    config = app.extensions["aime.config"]
    app.extensions["aime.config"] = config.replace(music_library_path="/music")
    entries = read_m3u(_export(client, playlist["id"], "m3u").get_data(as_text=True))
    assert [e["location"] for e in entries] == [
        '/music/The "Quoted", Band/A & B <Live>/Comma, Song.mp3',
        "/music/Björk/Homogenic/Line one_line two.mp3",
        "/music/Nobody/Unknown album/No length.mp3"]


def test_xspf_is_valid_and_complete(client, playlist):
    response = _export(client, playlist["id"], "xspf")
    assert response.mimetype == "application/xspf+xml"
    document = etree.fromstring(response.get_data())
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(document)
    assert document.findtext("x:title", namespaces=NS) == 'Mix "one", two'
    tracks = document.findall("x:trackList/x:track", NS)
    assert [(t.findtext("x:creator", namespaces=NS), t.findtext("x:title", namespaces=NS),
             t.findtext("x:album", namespaces=NS), t.findtext("x:duration", namespaces=NS)) for t in tracks] == [
        ('The "Quoted", Band', "Comma, Song", "A & B <Live>", "245000"),
        ("Björk", "Line one\nline two", "Homogenic", "60000"),
        ("Nobody", "No length", None, None)]
    assert all(t.findtext("x:location", namespaces=NS).startswith("https://") for t in tracks)


def test_xspf_with_library_paths_is_still_valid(app, client, playlist):
    app.extensions["aime.config"] = app.extensions["aime.config"].replace(music_library_path="/mnt/my music")
    document = etree.fromstring(_export(client, playlist["id"], "xspf").get_data())
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(document)
    first = document.find("x:trackList/x:track/x:location", NS).text
    assert first.startswith("file:///mnt/my%20music/") and " " not in first


def test_csv_round_trip(client, playlist):
    response = _export(client, playlist["id"], "csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert [(r["position"], r["artist"], r["title"], r["album"], r["duration_seconds"]) for r in rows] == [
        ("1", 'The "Quoted", Band', "Comma, Song", "A & B <Live>", "245"),
        ("2", "Björk", "Line one\nline two", "Homogenic", "60"),
        ("3", "Nobody", "No length", "", "")]
    assert list(rows[0]) == ["position", "track_id", "artist", "title", "album", "track_number",
                             "duration_seconds", "location"]


def test_json_has_the_same_fields(client, playlist):
    body = json.loads(_export(client, playlist["id"], "json").get_data(as_text=True))
    assert body["name"] == 'Mix "one", two' and body["algorithm"] == "manual"
    assert [t["title"] for t in body["tracks"]] == ["Comma, Song", "Line one\nline two", "No length"]
    assert set(body["tracks"][0]) == {"position", "track_id", "artist", "title", "album", "track_number",
                                      "duration_seconds", "location"}
    assert body["tracks"][2]["duration_seconds"] is None


def test_txt(client, playlist):
    text = _export(client, playlist["id"], "txt").get_data(as_text=True)
    assert text.splitlines() == ['Mix "one", two', "", '1. The "Quoted", Band - Comma, Song (4:05)',
                                 "2. Björk - Line one line two (1:00)", "3. Nobody - No length"]


def test_bad_format_and_unknown_playlist(client, playlist):
    bad = client.get(f"/api/v1/playlists/{playlist['id']}/export", query_string={"format": "wpl"})
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    assert "format" in bad.get_json()["errors"]
    missing = client.get("/api/v1/playlists/999/export", query_string={"format": "m3u"})
    assert missing.status_code == 404 and missing.content_type == "application/problem+json"
    assert get_ok(client, f"/api/v1/playlists/{playlist['id']}")["track_count"] == 3
