"""Discogs collection CSV: rows short of optional trailing columns are accepted; conflicts are reported."""
from __future__ import annotations

from sqlalchemy import select

from aime.extensions import db
from aime.models import Album

HEADER = ("Catalog#,Artist,Title,Label,Format,Rating,Released,release_id,CollectionFolder,Date Added,"
          "Collection Media Condition,Collection Sleeve Condition,Collection Notes")


def test_rows_missing_only_optional_trailing_columns_are_accepted(app, tmp_path, import_file):
    path = tmp_path / "resaved.csv"
    path.write_text("\n".join([
        HEADER,
        'NPG 001,Radiohead,OK Computer,Parlophone,"2xLP, Album, RE",,1997,1234567,Uncategorized,2020-02-18,NM,VG+',
        "CS 8163,Miles Davis,Kind Of Blue,Columbia,\"LP, Album\",5,1959,3456789,Jazz",
        "SD 7200,Crosby,Déjà Vu,Atlantic,LP,,1970",
        "",
    ]), encoding="utf-8")
    report = import_file(path)
    assert (report["status"], report["imported"], report["processed"]) == ("done", 2, 3)
    assert report["errors"] == [{"line": 4, "error": "expected 13 fields, found 7: required release_id missing"}]
    with app.app_context():
        owned = db.session.execute(select(Album.title, Album.year, Album.support, Album.discogs_id)
                                   .where(Album.in_collection.is_(True)).order_by(Album.title)).all()
    assert owned == [("Kind Of Blue", 1959, "Vinyle", 3456789), ("OK Computer", 1997, "Vinyle", 1234567)]


def test_a_conflicting_support_is_kept_and_reported(app, client, auth, samples, import_file):
    created = client.post("/api/v1/collection/albums", headers=auth, json={
        "title": "Homogenic", "artists": ["Björk"], "year": 1997, "support": "Vinyle"})
    assert created.status_code == 201
    report = import_file(samples / "alice-collection-20231114-1200.csv")
    assert (report["imported"], report["duplicates"]) == (4, 1)
    assert report["conflicts"] == [{"line": 3, "track": "Björk – Homogenic", "field": "support",
                                    "stored": "Vinyle", "file": "CD"}]
    shown = client.get(f"/api/v1/imports/{report['id']}").get_json()
    assert shown["conflicts"] == report["conflicts"] and shown["enriched"] == 0
    with app.app_context():
        homogenic = db.session.scalar(select(Album).where(Album.title == "Homogenic"))
        # What the owner entered stays; what was empty is filled from the file.
        assert (homogenic.support, homogenic.catalog_number, homogenic.discogs_id) == ("Vinyle", "CDP 7 2435", 2345678)
    again = import_file(samples / "alice-collection-20231114-1200.csv")
    assert [c["field"] for c in again["conflicts"]] == ["support"]


def test_superscript_digits_in_release_id_or_year_are_reported_not_a_crash(app, tmp_path, import_file):
    """str.isdigit() is true for '²' but int() refuses it: found by the damaged-samples property test."""
    path = tmp_path / "superscript.csv"
    path.write_text("\n".join([
        HEADER,
        "A1,Björk,Homogenic,One Little Indian,CD,,²997,1234567,Uncategorized,2020-02-18,,,",
        "A2,Björk,Post,One Little Indian,CD,,1995,²345678,Uncategorized,2020-02-18,,,",
        "",
    ]), encoding="utf-8")
    report = import_file(path)
    assert (report["status"], report["imported"], report["processed"]) == ("done", 1, 2)
    assert report["errors"] == [{"line": 3, "error": "release_id '²345678' is not a number"}]
    with app.app_context():
        owned = db.session.execute(select(Album.title, Album.year, Album.discogs_id)
                                   .where(Album.in_collection.is_(True))).all()
    assert owned == [("Homogenic", None, 1234567)]
