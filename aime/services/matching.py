"""Careful matching of an album against a source's candidates: normalised artist + title, year and track count
as tie-breakers; Discogs "(2)" suffixes and "Remastered"/"Deluxe" decorations ignored; ambiguity reported, not guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..text import normalise

_DISCOGS_SUFFIX = re.compile(r"\s+\(\d+\)$")
_DECORATION_WORDS = (r"remaster(?:ed)?|deluxe|expanded|anniversary|edition|version|reissue|bonus|special|"
                     r"collector'?s|legacy|super|mono|stereo|\d{4}")
# "(Remastered 2011)", "[Deluxe Edition]", " - 2009 Remaster", "(40th Anniversary Edition)"
_BRACKETED = re.compile(rf"\s*[\(\[][^\)\]]*\b(?:{_DECORATION_WORDS})\b[^\)\]]*[\)\]]", re.IGNORECASE)
_DASHED = re.compile(r"\s+[-–—]\s+[^-–—]*\b(?:remaster(?:ed)?|deluxe|expanded|anniversary|edition)\b.*$", re.IGNORECASE)
_PUNCT = re.compile(r"[^\w\s]")
_ARTICLE = re.compile(r"^the\s+")


def title_key(title: str | None) -> str:
    """A title without decorations, accents, case and punctuation ("OK Computer (Remastered)" -> "ok computer")."""
    text = _DISCOGS_SUFFIX.sub("", (title or "").strip())
    text = _DASHED.sub("", _BRACKETED.sub("", text))
    return " ".join(_PUNCT.sub(" ", normalise(text)).replace("&", " and ").split())


def artist_key(name: str | None) -> str:
    """An artist name without the Discogs "(2)", a leading "The", accents, case and punctuation."""
    text = _DISCOGS_SUFFIX.sub("", (name or "").strip())
    key = " ".join(_PUNCT.sub(" ", normalise(text).replace("&", " and ")).split())
    return _ARTICLE.sub("", key)


@dataclass(frozen=True)
class Candidate:
    """What a source proposes for an album; `ref` is the source's id, `data` the fields it offers."""

    ref: str
    artist: str
    title: str
    year: int | None = None
    track_count: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict:
        """A short description for reports."""
        return {"ref": self.ref, "artist": self.artist, "title": self.title, "year": self.year,
                "track_count": self.track_count}


@dataclass(frozen=True)
class MatchResult:
    """One chosen candidate, or none with the tied candidates when the choice was ambiguous."""

    chosen: Candidate | None
    ambiguous: list[Candidate] = field(default_factory=list)

    @property
    def is_ambiguous(self) -> bool:
        """True when several candidates fit equally well."""
        return bool(self.ambiguous)


def choose(artist: str, title: str, year: int | None, track_count: int | None,
           candidates: list[Candidate]) -> MatchResult:
    """The one candidate with the same artist and title, narrowed by year then track count; else ambiguous/none."""
    wanted_artist, wanted_title = artist_key(artist), title_key(title)
    same = [c for c in candidates if artist_key(c.artist) == wanted_artist and title_key(c.title) == wanted_title]
    if not same:
        return MatchResult(None)
    for known, attribute in ((year, "year"), (track_count, "track_count")):
        if known and len(_distinct(same)) > 1:
            narrowed = [c for c in same if getattr(c, attribute) == known]
            if narrowed:
                same = narrowed
    distinct = _distinct(same)
    if len(distinct) == 1:
        return MatchResult(distinct[0])
    return MatchResult(None, distinct)


def _distinct(candidates: list[Candidate]) -> list[Candidate]:
    seen, result = set(), []
    for candidate in candidates:
        if candidate.ref not in seen:
            seen.add(candidate.ref)
            result.append(candidate)
    return result
