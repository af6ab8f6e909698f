"""Collection exports: JSON for scripts, Markdown for notes apps."""
from __future__ import annotations

import re
import time

from ..models import Album
from ..timeutil import iso
from .collection import collection_albums
from .safe_text import md_text, md_url


def album_export(album: Album) -> dict:
    """Everything about an album, as plain data."""
    return {
        "id": album.id, "title": album.title, "artists": [a.name for a in album.artists],
        "year": album.year, "support": album.support, "genre": album.genre, "labels": list(album.labels or []),
        "catalog_number": album.catalog_number, "discogs_id": album.discogs_id,
        "links": {"spotify": album.spotify_url, "discogs": album.discogs_url, "apple_music": album.apple_music_url},
        "image_url": album.image_url, "ai_description": album.ai_description, "source": album.source,
        "tracks": [{"track_number": t.track_number, "title": t.title, "duration_seconds": t.duration_seconds}
                   for t in album.tracks if t.track_number is not None],
        "created_at": iso(album.created_at), "updated_at": iso(album.updated_at),
    }


def export_json(artist_id: int | None = None, support: str | None = None) -> dict:
    """The collection (or part of it) as one JSON document."""
    albums = collection_albums(artist_id=artist_id, support=support)
    return {"export_date": iso(time.time()), "total_albums": len(albums),
            "albums": [album_export(a) for a in albums]}


def slug(text: str) -> str:
    """The anchor GitHub-flavoured Markdown gives a heading with this text."""
    lowered = text.strip().lower()
    lowered = re.sub(r"[^\w\- ]", "", lowered)
    return lowered.replace(" ", "-")


def _md_escape(text: str) -> str:
    return md_text(text)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def export_markdown(artist_id: int | None = None, support: str | None = None, title: str = "My collection") -> str:
    """The collection grouped by artist, with a table of contents whose links work."""
    albums = collection_albums(artist_id=artist_id, support=support)
    groups: dict[str, list[Album]] = {}
    for album in albums:
        groups.setdefault(album.artists[0].name if album.artists else "Unknown artist", []).append(album)
    lines = [f"# {_md_escape(title)}", "", f"_Exported {iso(time.time())} · {_plural(len(albums), 'album')}_", ""]
    lines += ["## Contents", ""]
    used: dict[str, int] = {}
    anchors = []
    for artist in groups:
        anchor = _unique(slug(artist) or "artist", used)
        anchors.append(anchor)
        lines.append(f"- [{_md_escape(artist)}](#{anchor}) ({len(groups[artist])})")
    lines.append("")
    for (artist, items), anchor in zip(groups.items(), anchors, strict=True):
        lines += [f'<a id="{anchor}"></a>', f"## {_md_escape(artist)}", ""]
        for album in items:
            lines += _album_section(album)
    return "\n".join(lines).rstrip() + "\n"


def _unique(anchor: str, used: dict[str, int]) -> str:
    count = used.get(anchor, 0)
    used[anchor] = count + 1
    return anchor if count == 0 else f"{anchor}-{count}"


def _album_section(album: Album) -> list[str]:
    heading = _md_escape(album.title) + (f" ({album.year})" if album.year else "")
    lines = [f"### {heading}", ""]
    if md_url(album.image_url):
        lines += [f"![Cover of {_md_escape(album.title)}]({md_url(album.image_url)})", ""]
    facts = [("Artists", ", ".join(_md_escape(a.name) for a in album.artists)),
             ("Year", str(album.year) if album.year else None),
             ("Support", album.support and _md_escape(album.support)),
             ("Genre", album.genre and _md_escape(album.genre)),
             ("Labels", ", ".join(_md_escape(label) for label in album.labels or []) or None),
             ("Catalog number", album.catalog_number and _md_escape(album.catalog_number))]
    lines += [f"- **{name}:** {value}" for name, value in facts if value]
    # URLs are percent-encoded: a ")" in one must not end the link and start another (javascript:...).
    links = [(name, md_url(url)) for name, url in (("Spotify", album.spotify_url), ("Discogs", album.discogs_url),
                                                     ("Apple Music", album.apple_music_url)) if md_url(url)]
    if links:
        lines.append("- **Links:** " + " · ".join(f"[{name}]({url})" for name, url in links))
    tracks = [t for t in album.tracks if t.track_number is not None]
    if tracks:
        lines += ["", "| # | Title | Length |", "|---|---|---|"]
        lines += [f"| {t.track_number} | {_md_escape(t.title)} | {_length(t.duration_seconds)} |" for t in tracks]
    if album.ai_description:
        paragraphs = [_md_escape(part) for part in album.ai_description.splitlines() if part.strip()]
        lines += [""] + [f"> {part}" for part in paragraphs]
    return lines + [""]


def _length(seconds: int | None) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds else ""
