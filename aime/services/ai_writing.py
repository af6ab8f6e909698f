"""AI writing: album descriptions, haikus of the listening, haikus of random albums; all cleaned before use."""
from __future__ import annotations

import html
import random
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser

from flask import current_app
from sqlalchemy import func, or_, select

from ..config import Config
from ..database import run_write
from ..extensions import db
from ..integrations import ai
from ..models import Album, Artist, Listen, Track
from ..timeutil import iso
from .collection import get_album

DESCRIPTION_MAX_CHARS = 1200
HAIKU_MAX_CHARS = 300
HAIKU_CACHE_SECONDS = 600
SYSTEM = ("You write for a personal record collection. Answer in plain text only: no Markdown, no HTML, "
          "no lists, no headings, no preamble.")


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment, dropping tags and the content of script/style."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


_MARKDOWN = [
    (re.compile(r"^[ \t]*```[^\n]*$", re.M), ""),                       # code fences (keep their content)
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),                    # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),                     # links -> their text
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*", re.M), ""),                      # headings
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.M), ""),                           # block quotes
    (re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.M), ""),                  # horizontal rules
    (re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+", re.M), ""),              # list markers
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),             # bold
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *italic*
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),    # _italic_ (not snake_case)
    (re.compile(r"`([^`]*)`"), r"\1"),                                 # inline code
]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str, max_chars: int) -> str:
    """Plain text from a model's answer: HTML and Markdown removed, lines tidied, at most max_chars."""
    parser = _TextOnly()
    parser.feed(text or "")
    parser.close()
    plain = html.unescape("".join(parser.parts))
    for pattern, replacement in _MARKDOWN:
        plain = pattern.sub(replacement, plain)
    plain = _CONTROL.sub("", plain.replace("\r\n", "\n").replace("\t", " "))
    lines = [re.sub(r" {2,}", " ", line).strip() for line in plain.split("\n")]
    plain = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip().strip('"').strip()
    return _truncate(plain, max_chars)


def _truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    # End on a word boundary when one is reasonably close, so we never store half a word.
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= max_chars * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-\n") + "…"


def require_ai(config: Config) -> None:
    """Raise NotConfigured (503) unless an AI endpoint is configured."""
    if not ai.is_configured(config):
        raise ai.NotConfigured(ai.NOT_CONFIGURED)


def _ask(config: Config, prompt: str, max_chars: int, max_tokens: int) -> str:
    answer = clean_text(ai.chat(config, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
                                max_tokens=max_tokens), max_chars)
    if not answer:
        raise ai.AIUnavailable("The AI endpoint answered with no usable text.")
    return answer


def _album_line(album: Album) -> str:
    artists = ", ".join(a.name for a in album.artists) or "an unknown artist"
    facts = ", ".join(str(x) for x in (album.year, album.genre, album.support) if x)
    return f'"{album.title}" by {artists}' + (f" ({facts})" if facts else "")


def describe_album(config: Config, album_id: int) -> dict:
    """Ask the AI for an album description, clean it and store it as the album's ai_description."""
    require_ai(config)
    album = get_album(album_id)
    prompt = (f"Describe the album {_album_line(album)} in at most three sentences: its sound, its place in the "
              "artist's work, and why someone might put it on tonight.")
    db.session.rollback()  # hold no read transaction (SQLite snapshot) while waiting on the network
    description = _ask(config, prompt, DESCRIPTION_MAX_CHARS, max_tokens=350)

    def _store():
        stored = get_album(album_id)
        stored.ai_description = description
        return {"album_id": stored.id, "title": stored.title, "ai_description": description}

    return run_write(_store)


def albums_without_description(limit: int) -> list[int]:
    """Ids of owned albums that have no AI description yet, oldest first."""
    return list(db.session.scalars(
        select(Album.id).where(Album.in_collection.is_(True),
                               or_(Album.ai_description.is_(None), Album.ai_description == ""))
        .order_by(Album.id).limit(limit)))


def enrich_all(config: Config, limit: int = 25) -> dict:
    """Describe up to `limit` albums lacking a description; stops early when the endpoint's circuit opens."""
    require_ai(config)
    ids = albums_without_description(limit)
    enriched, errors = [], []
    for album_id in ids:
        try:
            enriched.append(describe_album(config, album_id)["album_id"])
        except ai.CircuitOpen as error:
            errors.append({"album_id": album_id, "error": error.detail})
            break
        except ai.AIUnavailable as error:
            errors.append({"album_id": album_id, "error": error.detail})
    remaining = db.session.scalar(select(func.count(Album.id)).where(
        Album.in_collection.is_(True), or_(Album.ai_description.is_(None), Album.ai_description == "")))
    return {"processed": len(enriched) + len(errors), "enriched": len(enriched), "failed": len(errors),
            "remaining": remaining or 0, "album_ids": enriched, "errors": errors}


def listening_haiku(config: Config, days: int = 7, before_paid_call: Callable[[], None] | None = None) -> dict:
    """A haiku about the last `days` days of listening; reused for HAIKU_CACHE_SECONDS per process.

    `before_paid_call` runs only when the AI will really be asked (a cache miss): the API passes the
    per-address budget of anonymous callers there, which raises 429 when it is spent.
    """
    require_ai(config)
    # GET is public unless AIME_PRIVATE: a short cache keeps anonymous reloads from spending AI calls.
    cache = current_app.extensions.setdefault("aime.haiku_cache", {})
    hit = cache.get(days)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    if before_paid_call is not None:
        before_paid_call()
    result = _listening_haiku(config, days)
    cache[days] = (time.monotonic() + HAIKU_CACHE_SECONDS, result)
    return result


def _listening_haiku(config: Config, days: int) -> dict:
    end = int(time.time())
    start = end - days * 86400
    period = [Listen.played_at >= start, Listen.played_at < end]
    plays = db.session.scalar(select(func.count()).select_from(Listen).where(*period)) or 0
    artists = [name for name, _ in db.session.execute(
        select(Artist.name, func.count()).join(Track, Track.artist_id == Artist.id)
        .join(Listen, Listen.track_id == Track.id).where(*period)
        .group_by(Artist.id, Artist.name).order_by(func.count().desc(), Artist.name).limit(5))]
    albums = [title for title, _ in db.session.execute(
        select(Album.title, func.count()).join(Track, Track.album_id == Album.id)
        .join(Listen, Listen.track_id == Track.id).where(*period)
        .group_by(Album.id, Album.title).order_by(func.count().desc(), Album.title).limit(3))]
    if plays:
        prompt = (f"Write one haiku (three lines, 5-7-5 syllables) about the last {days} days of my listening: "
                  f"{plays} plays, mostly {', '.join(artists)}" + (f"; albums {', '.join(albums)}" if albums else "")
                  + ".")
    else:
        prompt = f"Write one haiku (three lines, 5-7-5 syllables) about {days} quiet days without music."
    db.session.rollback()
    haiku = _ask(config, prompt, HAIKU_MAX_CHARS, max_tokens=120)
    return {"days": days, "start": iso(start), "end": iso(end), "listens": plays, "top_artists": artists,
            "top_albums": albums, "haiku": haiku, "generated_at": iso(time.time())}


def album_haikus(config: Config, count: int = 5, rng: random.Random | None = None) -> list[dict]:
    """A haiku for each of `count` random owned albums: [{album_id, title, artists, haiku}]."""
    require_ai(config)
    rng = rng or random.Random()
    ids = list(db.session.scalars(select(Album.id).where(Album.in_collection.is_(True)).order_by(Album.id)))
    chosen = rng.sample(ids, min(count, len(ids)))
    albums = [get_album(album_id) for album_id in chosen]
    items = [{"album_id": a.id, "title": a.title, "artists": [x.name for x in a.artists], "line": _album_line(a)}
             for a in albums]
    db.session.rollback()
    for item in items:
        item["haiku"] = _ask(config, f"Write one haiku (three lines, 5-7-5 syllables) about the album "
                                     f"{item.pop('line')}.", HAIKU_MAX_CHARS, max_tokens=120)
    return items

