"""The magazine's prose: composed from the data alone, or written by the AI around the data's numbers.

The AI is given the facts and asked for prose. An answer carrying a number that is not among the facts it was
given is not used (the data's own sentence stays), so every number on a page comes from the database.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, UTC

from ..config import Config
from ..integrations import ai
from ..text import plural
from .ai_writing import HAIKU_MAX_CHARS, SYSTEM, clean_text

log = logging.getLogger(__name__)
PROSE_MAX_CHARS = 900
_NUMBER = re.compile(r"\d+")


def write(config: Config, content: dict) -> str:
    """Fill every text of the edition; returns who wrote it: data, ai, or mixed (AI pieces that failed checks)."""
    pieces = list(_pieces(content))
    for target, key, fallback, _prompt in pieces:
        target[key] = fallback
    if not ai.is_configured(config) or not pieces:
        return "data"
    written = 0
    for target, key, fallback, prompt in pieces:
        text = _ask(config, prompt, fallback, HAIKU_MAX_CHARS if key == "haiku" else PROSE_MAX_CHARS)
        if text is not None:
            target[key], written = text, written + 1
    return "ai" if written == len(pieces) else ("mixed" if written else "data")


def _ask(config: Config, prompt: str, facts: str, max_chars: int) -> str | None:
    try:
        answer = clean_text(ai.chat(config, [{"role": "system", "content": SYSTEM},
                                             {"role": "user", "content": prompt}], max_tokens=300), max_chars)
    except ai.AIUnavailable as error:
        log.warning("magazine: the AI did not write a piece (%s); the data's text stays", error.detail)
        return None
    allowed = set(_NUMBER.findall(prompt)) | set(_NUMBER.findall(facts))
    foreign = [n for n in _NUMBER.findall(answer) if n not in allowed]
    if not answer or foreign:
        log.warning("magazine: AI prose dropped (numbers not from the data: %s)", ", ".join(foreign) or "empty")
        return None
    return answer


def _day(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d %B %Y").lstrip("0") if epoch else "never"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _pieces(content: dict):
    """(dict, key, text from the data, prompt for the AI) for every text of the edition."""
    featured = content.get("featured_artist")
    if featured:
        records = "; ".join(f"{r['title']} ({plural(r['plays'], 'play')})" for r in featured["records"])
        text = (f"{featured['name']} is the artist of this edition: played {_times(featured['plays'])}, first on "
                f"{_day(featured['first_played'])}, last on {_day(featured['last_played'])}."
                + (f" The most played records: {records}." if records else ""))
        yield featured, "text", text, (f"Write a short magazine portrait (at most four sentences) of the artist "
                                       f"{featured['name']} for a listener whose facts are: {text} Use no other "
                                       f"numbers than these.")
    album = content.get("album")
    if album:
        top = album["top_tracks"][0] if album["top_tracks"] else None
        text = (f"“{album['title']}” by {', '.join(album['artists'])} has been played {_times(album['plays'])}, "
                f"first on {_day(album['first_played'])}, last on {_day(album['last_played'])}"
                # Under a minute is what plays of unknown length give: no "0 minutes in all".
                + (f", {plural(album['listening_seconds'] // 60, 'minute')} in all."
                   if album["listening_seconds"] >= 60 else ".")
                + (f" {album['tracks_heard']} of its {album['tracks']} tracks have been heard."
                   if album["tracks"] else "")
                + (f" “{top['title']}” most of all ({plural(top['plays'], 'play')})." if top else ""))
        yield album, "text", text, (f"Write a short magazine piece (at most five sentences) about the album "
                                    f"“{album['title']}” by {', '.join(album['artists'])} and how it has been "
                                    f"listened to: {text} Use no other numbers than these.")
    for item in content.get("haikus") or []:
        line = f"{', '.join(item['artists'])}" + (f", {item['year']}" if item["year"] else "")
        played = f"played {_times(item['plays'])}" if item["plays"] else "still waiting for the needle"
        yield item, "haiku", f"{item['title']}\n{line}\n{played}", (
            f"Write one haiku (three lines, 5-7-5 syllables) about the album “{item['title']}” by {line}. "
            "Use no digits.")
    shelf = content.get("collection")
    if shelf:
        text = f"{shelf['name']}: {plural(len(shelf['items']), 'record')}, and why each one is here."
        yield shelf, "intro", text, (f"Write one inviting sentence introducing a shelf of records called "
                                     f"“{shelf['name']}” ({len(shelf['items'])} records). Use no other numbers.")
