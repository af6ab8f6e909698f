"""Real-world mess: BOM, CRLF, quoted commas, Windows-1252 lines, broken rows, NUL bytes, huge lines, hostile zips."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from aime.errors import InvalidInput
from aime.extensions import db
from aime.models import Artist, Listen, Track


def test_bom_crlf_quotes_cp1252_and_broken_rows(app, tmp_path, import_file):
    lines = [
        "\ufeffuts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid".encode(),
        '1699963520,"14 Nov 2023, 12:05","Crosby, Stills, Nash & Young",,"Déjà Vu",,"Carry On, Questions",'.encode(),
        "1699963200,x,Beyoncé,,,,Halo,".encode("cp1252"),  # a spreadsheet saved this line as Windows-1252
        b"not-a-time,x,Someone,,,,Song,",
        b"1699947000,x,,,,,No Artist,",
        b"1699940000,x,Only,Three",
        b"1699930000,x,Nul\x00Band,,,,Song,",
        "1699920000,x,Sigur Rós,,( ),,Untitled #1,".encode(),
    ]
    path = tmp_path / "renamed.txt"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    report = import_file(path)
    assert (report["format"], report["status"], report["imported"], report["processed"]) == (
        "lastfm-ghan-csv", "done", 3, 7)
    assert report["errors"] == [
        {"line": 4, "error": "uts 'not-a-time' is not a timestamp"},
        {"line": 5, "error": "artist is missing"},
        {"line": 6, "error": "expected 8 fields, found 4"},
        {"line": 7, "error": "line contains NUL bytes"},
    ]
    with app.app_context():
        names = set(db.session.scalars(select(Artist.name)))
        titles = set(db.session.scalars(select(Track.title)))
    assert names == {"Crosby, Stills, Nash & Young", "Beyoncé", "Sigur Rós"}
    assert "Carry On, Questions" in titles


def test_huge_line_is_reported_not_loaded(tmp_path, import_file):
    path = tmp_path / "big.csv"
    path.write_bytes(b"Daft Punk,Discovery,One More Time,14 Nov 2023 12:05\n"
                     + b"A," + b"x" * (3 * 1024 * 1024) + b",T,14 Nov 2023 12:00\n"
                     + b"Daft Punk,Discovery,Aerodynamic,14 Nov 2023 11:00\n")
    report = import_file(path)
    assert (report["imported"], report["errors"]) == (2, [{"line": 2, "error": "line longer than 1024 KB"}])


def test_unclosed_quote_and_huge_field_do_not_abort(tmp_path, import_file):
    path = tmp_path / "quote.csv"
    path.write_text('Daft Punk,Discovery,One More Time,14 Nov 2023 12:05\n'
                    'Daft Punk,Discovery,"Digital Love,14 Nov 2023 12:00\n'
                    + ("y" * 200 + "\n") * 1000, encoding="utf-8")
    report = import_file(path)
    assert report["status"] == "done" and report["imported"] == 1
    assert report["errors"][0]["line"] == 2 and "field larger than field limit" in report["errors"][0]["error"]


def test_unknown_format_lists_the_formats(tmp_path, import_file):
    path = tmp_path / "notes.csv"
    path.write_text("hello,world\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        import_file(path)
    for name in ("lastfm-csv", "lastfm-ghan-csv", "lastfm-json", "spotify-extended", "spotify-basic",
                 "listenbrainz-zip", "listenbrainz-json", "maloja", "discogs-csv"):
        assert name in caught.value.detail


def test_truncated_json_keeps_what_came_before_and_fails_with_the_line(samples, tmp_path, import_file,
                                                                       count_listens):
    text = (samples / "alice_lb-2023-11-14.json").read_text(encoding="utf-8")
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"Feeling Good"')], encoding="utf-8")  # cut inside the listen of line 107
    report = import_file(path)
    assert (report["status"], report["imported"]) == ("failed", 7)
    assert report["errors"][-1]["line"] == 107 and "invalid JSON" in report["errors"][-1]["error"]
    assert count_listens() == 7


def _zip(tmp_path, entries: dict[str, bytes], name="lb.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in entries.items():
            archive.writestr(member, data)
    return path


LISTEN = json.dumps({"listened_at": 1699650251, "track_metadata": {"artist_name": "A", "track_name": "T"}})


@pytest.mark.parametrize("member", ["../../evil/listens/2023/11.jsonl", "/etc/listens/2023/1.jsonl"])
def test_zip_path_traversal_is_refused(tmp_path, import_file, count_listens, member):
    path = _zip(tmp_path, {"listens/2023/11.jsonl": LISTEN.encode(), member: LISTEN.encode()})
    report = import_file(path)
    assert report["status"] == "failed" and "unsafe member name" in report["message"]
    assert count_listens() == 0
    assert not (tmp_path.parent / "evil").exists()


def test_zip_bomb_is_refused(tmp_path, import_file, count_listens):
    path = _zip(tmp_path, {"listens/2023/11.jsonl": LISTEN.encode() + b"\n" + b" " * (64 * 1024 * 1024)})
    report = import_file(path)
    assert report["status"] == "failed" and "zip bomb" in report["message"]
    assert count_listens() == 0


def test_dedup_window_boundary(app, tmp_path, import_file):
    path = tmp_path / "w.csv"
    path.write_text("uts,artist,track\n1700000000,Björk,Jóga\n1700000060,BJORK,joga\n1700000121,Bjork,Jóga\n",
                    encoding="utf-8")
    report = import_file(path)
    assert (report["imported"], report["duplicates"]) == (2, 1)  # 60 s apart: same play; 121 s: a repeat
    with app.app_context():
        assert db.session.scalars(select(Listen.played_at).order_by(Listen.played_at)).all() == [
            1700000000, 1700000121]


def test_detection_ignores_the_file_name(samples, tmp_path, import_file):
    path = tmp_path / "export.zip.csv.json"
    path.write_bytes((samples / "maloja_export_20231114.json").read_bytes())
    assert import_file(path)["format"] == "maloja"


def test_stream_helpers_on_memory_input():
    from aime.services.importers import resolve_format

    assert resolve_format(io.BytesIO(b"\xef\xbb\xbf[{\"ts\": \"x\", \"ms_played\": 1}]"), None).name == \
        "spotify-extended"


def test_nul_and_lone_surrogates_in_json_are_reported_not_stored(tmp_path, import_file, count_listens):
    rows = [{"listened_at": 1699650251 + 600 * i, "track_metadata": {"artist_name": artist, "track_name": "T"}}
            for i, artist in enumerate(["Good", "Bad\u0000Band", "\ud800Broken", "x" * 600, "Fine"])]
    path = tmp_path / "lb.json"
    path.write_text(json.dumps(rows), encoding="utf-8")  # json.dumps escapes them as \u0000 / \ud800
    report = import_file(path)
    assert (report["status"], report["imported"]) == ("done", 2)
    assert [e["error"] for e in report["errors"]] == [
        "a name contains a NUL character or an invalid (surrogate) code point"] * 2 + [
        "artist is longer than 500 characters"]
    assert count_listens() == 2
