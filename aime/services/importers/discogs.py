"""Discogs collection CSV export: owned releases (labels, format, catalog number, release id)."""
from __future__ import annotations

import re
from typing import BinaryIO
from collections.abc import Iterator

from .common import RowError, text
from .records import CollectionEntry, Malformed
from .textio import csv_rows

REQUIRED = ("artist", "title", "release_id")
_DISAMBIGUATION = re.compile(r"\s*\(\d+\)$")  # "Night Time Stories (2)": Discogs' homonym number
_SUPPORTS = (("vinyl", "Vinyle"), ("lp", "Vinyle"), ('7"', "Vinyle"), ('10"', "Vinyle"), ('12"', "Vinyle"),
             ("cd", "CD"), ("sacd", "CD"), ("cass", "Cassette"), ("file", "Digital"), ("dvd", "DVD"),
             ("blu-ray", "Blu-ray"), ("box set", "Box set"))


def clean_name(name: str) -> str:
    """A Discogs name without its disambiguation suffix."""
    return _DISAMBIGUATION.sub("", name.strip())


def support_of(fmt: str) -> str | None:
    """'2xLP, Album, RE' -> 'Vinyle'; 'CD, Album' -> 'CD'; otherwise the first format word."""
    words = [w.strip() for w in fmt.split(",") if w.strip()]
    if not words:
        return None
    first = re.sub(r"^\d+x", "", words[0]).strip().lower()
    for needle, support in _SUPPORTS:
        if first == needle or first.startswith(needle):
            return support
    return words[0][:100]


def parse_collection(stream: BinaryIO) -> Iterator:
    """One CollectionEntry per release row."""
    columns: dict[str, int] | None = None
    for line, row, problem in csv_rows(stream):
        if problem is not None:
            yield problem
        elif columns is None:
            columns = {name.strip().lower(): i for i, name in enumerate(row)}
            missing = [name for name in REQUIRED if name not in columns]
            if missing:
                yield Malformed(line, f"header lacks column(s) {', '.join(missing)}")
                return
        else:
            try:
                yield _entry(line, row, columns)
            except RowError as error:
                yield Malformed(line, str(error))


def _entry(line: int, row: list[str], columns: dict[str, int]) -> CollectionEntry:
    # Spreadsheet re-saves drop empty trailing cells (Collection Notes, ...): a short row is fine as long as
    # every required column is there; the missing optional ones read as empty.
    cut = [name for name in REQUIRED if columns[name] >= len(row)]
    if cut:
        raise RowError(f"expected {len(columns)} fields, found {len(row)}: required {', '.join(cut)} missing")

    def get(name: str) -> str:
        return row[columns[name]].strip() if name in columns and columns[name] < len(row) else ""

    release = get("release_id")
    if not (release.isascii() and release.isdigit()):  # "²" is a digit to str.isdigit, not to int()
        raise RowError(f"release_id {release[:40]!r} is not a number")
    year = get("released")
    labels = list(dict.fromkeys(clean_name(x) for x in get("label").split(",") if clean_name(x)))
    catalog = get("catalog#")
    return CollectionEntry(
        line=line, artists=[clean_name(text(get("artist"), "artist"))], title=text(get("title"), "title"),
        year=int(year) if year.isascii() and year.isdigit() and 0 < int(year) < 3000 else None,
        support=support_of(get("format")), labels=labels[:20],
        catalog_number=catalog[:200] if catalog and catalog.lower() != "none" else None,
        discogs_id=int(release))
