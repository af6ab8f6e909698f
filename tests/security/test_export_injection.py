"""Issue 15 item 2 and #14 item 2: exports carry data, never markup, links or formulas an attacker wrote."""
from __future__ import annotations

import csv
import io

import pytest

from tests.factories import create_album

XSS = '<img src=x onerror=alert(1)>'
BREAKOUT_URL = "https://e.example/a)[click](javascript:alert(7))"


def _markdown(client) -> str:
    response = client.get("/api/v1/collection/export/markdown")
    assert response.status_code == 200
    return response


def test_markdown_export_escapes_html_links_and_table_breaks(client, auth):
    create_album(client, auth, "Title\n| injected | row |\u2028# Heading", ["Evil"], support=XSS, genre=XSS,
                 labels=[XSS, "Label [x](javascript:alert(2))"], catalog_number="<script>alert(3)</script>",
                 spotify_url=BREAKOUT_URL, image_url="https://img.example/c.jpg)[x](javascript:alert(4))",
                 tracks=[{"title": "Line one\nline two | cell", "duration_seconds": 60}])
    response = _markdown(client)
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.get_data(as_text=True)
    assert "<img" not in text and "<script" not in text  # no raw HTML survives
    assert "- **Support:** &lt;img src=x onerror=alert(1)&gt;" in text
    assert "- **Labels:** &lt;img src=x onerror=alert(1)&gt;, Label \\[x\\](javascript:alert(2))" in text
    assert "- **Catalog number:** &lt;script&gt;alert(3)&lt;/script&gt;" in text
    # The ")" of the URL is percent-encoded: the link ends where AIME ends it.
    assert "- **Links:** [Spotify](https://e.example/a%29%5Bclick%5D%28javascript:alert%287%29%29)" in text
    assert "![Cover of Title \\| injected \\| row \\| \\# Heading](https://img.example/c.jpg%29%5Bx%5D%28" \
           "javascript:alert%284%29%29)" in text
    # One title, one line; the track row stays one row of three cells.
    assert "### Title \\| injected \\| row \\| \\# Heading" in text
    assert "| 1 | Line one line two \\| cell | 1:00 |" in text
    assert "_Exported " in text and " · 1 album_" in text  # #14: not "1 albums"


def test_markdown_renders_without_live_html_or_javascript_links(client, auth):
    markdown_it = pytest.importorskip("markdown_it")
    create_album(client, auth, "Safe", ["Evil"], support=XSS, spotify_url=BREAKOUT_URL)
    html = markdown_it.MarkdownIt("commonmark").render(_markdown(client).get_data(as_text=True))
    assert "<img" not in html and 'href="javascript:' not in html
    assert '<a href="https://e.example/a%29%5Bclick%5D%28javascript:alert%287%29%29">Spotify</a>' in html


def test_markdown_counts_albums_in_plain_english(client, auth):
    assert " · 0 albums_" in _markdown(client).get_data(as_text=True)
    create_album(client, auth, "One", ["A"])
    create_album(client, auth, "Two", ["A"])
    assert " · 2 albums_" in _markdown(client).get_data(as_text=True)


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0"]


@pytest.fixture
def formula_playlist(client, auth):
    ids = []
    for i, formula in enumerate(FORMULAS):
        created = client.post("/api/v1/history/tracks", headers=auth, json={
            "artist": formula, "title": f"Song{i}\u2028second\x85third\x0cfourth", "album": formula,
            "played_at": f"2024-02-0{i + 1}T10:00:00Z"})
        assert created.status_code == 201, created.get_json()
        ids.append(created.get_json()["track_id"])
    body = client.post("/api/v1/playlists", headers=auth, json={"name": "=1+1\u2029Mix", "track_ids": ids})
    assert body.status_code == 201
    return body.get_json()["id"]


def _export(client, playlist_id, fmt) -> str:
    response = client.get(f"/api/v1/playlists/{playlist_id}/export", query_string={"format": fmt})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_playlist_csv_neutralises_formulas(client, formula_playlist):
    rows = list(csv.DictReader(io.StringIO(_export(client, formula_playlist, "csv"))))
    assert [row["artist"] for row in rows] == ["'" + formula for formula in FORMULAS]
    assert [row["album"] for row in rows] == ["'" + formula for formula in FORMULAS]
    assert rows[0]["position"] == "1"  # numbers are left alone


@pytest.mark.parametrize("fmt", ["m3u", "txt"])
def test_m3u_and_txt_have_no_line_or_paragraph_separators(client, formula_playlist, fmt):
    text = _export(client, formula_playlist, fmt)
    for separator in ("\u2028", "\u2029", "\x85", "\x0c", "\r"):
        assert separator not in text
    lines = text.split("\n")
    if fmt == "m3u":
        assert lines[1] == "#PLAYLIST:=1+1 Mix"
        assert lines[2] == '#EXTINF:-1,=HYPERLINK("http://evil.example","x") - Song0 second third fourth'
        assert len(lines) == 2 + 2 * len(FORMULAS) + 1
    else:
        assert lines[0] == "=1+1 Mix"
        assert lines[2] == '1. =HYPERLINK("http://evil.example","x") - Song0 second third fourth'
        assert len(lines) == 2 + len(FORMULAS) + 1
