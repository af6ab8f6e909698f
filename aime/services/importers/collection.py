"""Writing collection entries (Discogs CSV): owned albums with labels, support, catalog number, release id."""
from __future__ import annotations

from sqlalchemy import select

from ...models import Album, AlbumArtist
from ...text import normalise
from ..catalog import find_album, get_or_create_artist
from .records import CollectionEntry


def write_entries(session, entries: list[CollectionEntry], conflicts: list[dict] | None = None) -> tuple[int, int]:
    """Add each entry to the collection: (albums added, albums already there). Collections are small: per row.

    Values of the file that differ from what the album already has (edited by hand, or another source) are
    kept out and appended to `conflicts`."""
    added = already = 0
    conflicts = [] if conflicts is None else conflicts
    for entry in entries:
        artist = get_or_create_artist(entry.artists[0])
        album = session.scalar(select(Album).where(Album.discogs_id == entry.discogs_id)) if entry.discogs_id else None
        album = album or find_album(entry.title, artist)
        if album is not None and album.in_collection:
            already += 1
            _report_conflicts(album, entry, conflicts)
            _fill_missing(album, entry)
            continue
        if album is None:
            album = Album(title=entry.title, title_key=normalise(entry.title), primary_artist_id=artist.id,
                          source="discogs", labels=[])
            album.album_artists = [AlbumArtist(artist=artist, position=0)]
            session.add(album)
        album.in_collection = True
        _report_conflicts(album, entry, conflicts)
        _fill_missing(album, entry)
        session.flush()
        added += 1
    return added, already


def _report_conflicts(album: Album, entry: CollectionEntry, conflicts: list[dict]) -> None:
    """A field the album has and the file gives differently: the album's is kept, the difference reported."""
    name = f"{', '.join(entry.artists)} – {entry.title}"
    for field, stored, new in (("year", album.year, entry.year), ("support", album.support, entry.support),
                               ("labels", album.labels or None, list(entry.labels) or None),
                               ("catalog_number", album.catalog_number, entry.catalog_number),
                               ("discogs_id", album.discogs_id, entry.discogs_id)):
        if stored is not None and new is not None and stored != new:
            conflicts.append({"line": entry.line, "track": name, "field": field, "stored": stored, "file": new})


def _fill_missing(album: Album, entry: CollectionEntry) -> None:
    # Never overwrite what the owner edited: only empty fields take the export's values.
    if album.year is None and entry.year:
        album.year = entry.year
    if not album.support and entry.support:
        album.support = entry.support
    if not album.labels and entry.labels:
        album.labels = list(entry.labels)
    if not album.catalog_number and entry.catalog_number:
        album.catalog_number = entry.catalog_number
    if album.discogs_id is None and entry.discogs_id:
        album.discogs_id = entry.discogs_id
        album.discogs_url = album.discogs_url or f"https://www.discogs.com/release/{entry.discogs_id}"
