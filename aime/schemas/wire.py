"""The hot reads' bodies without marshmallow's per-object dump: the same fields and values as their schemas.

An album page, an album with its tracks and a journal page dump 30-50 objects each; marshmallow's
per-field work was most of the CPU of a first read (docs/benchmarks.md, "Reads near the floor").
These functions take what the services' row functions return (values already of the JSON type, instants
as epoch seconds) and do only what the schemas' fields would change: instants to ISO 8601, labels and
nested lists copied. tests/api/test_wire.py holds them equal to AlbumPageSchema, AlbumDetailSchema and
JournalPageSchema, so the OpenAPI document (still generated from those schemas) stays the truth.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..timeutil import iso

if TYPE_CHECKING:
    from ..services.paging import Page


def album(row: dict) -> dict:
    """AlbumSchema's dump of an album row (services.collection.album_row)."""
    labels = row["labels"]
    return {**row, "labels": None if labels is None else [str(label) for label in labels],
            "artists": [{"id": a["id"], "name": a["name"]} for a in row["artists"]],
            "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}


def album_detail(row: dict) -> dict:
    """AlbumDetailSchema's dump of services.collection.album_detail_row."""
    return {**album(row), "tracks": [dict(track) for track in row["tracks"]], "play_count": row["play_count"],
            "last_played": iso(row["last_played"])}


def album_page(page: Page) -> dict:
    """AlbumPageSchema's dump of a page of album rows."""
    return _page(page, [album(row) for row in page.items])


def journal_page(page: Page) -> dict:
    """JournalPageSchema's dump of a journal page (services.history.journal)."""
    return _page(page, [{**item, "played_at": iso(item["played_at"])} for item in page.items])


def _page(page: Page, items: list[dict]) -> dict:
    return {"items": items, "total": page.total, "page": page.page, "page_size": page.page_size,
            "pages": page.pages}
