"""A collection's query run over the library: filters, listening facts, and why each album is in.

Listening facts (docs/collections.md says the same):
- `not_played_for_days` (N, default 730: "owned, not played for two years"): no play in the last N days, or none ever;
  oldest last play first, never played before that.
- `never_played`: no play ever.
- `most_played`: at least one play, most plays first.
- `winter_evenings`: plays that started in December, January or February between 18:00 and 24:00 local time
  (AIME_TIMEZONE), at least one, most such plays first ("played most in winter evenings").
"""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.orm import lazyload

from ..config import Config
from ..extensions import db
from ..models import Album, AlbumArtist, Artist, Listen, Track
from ..models.rollup import TrackPlayTotal as Totals
from ..text import normalise, plural
from .catalog import contains, escape_like
from .sql_lists import one_of

FACTS = ("not_played_for_days", "never_played", "most_played", "winter_evenings")
DEFAULT_DAYS = 730
WINTER_MONTHS, EVENING_HOURS = (12, 1, 2), range(18, 24)
VINYL = ("vinyl", "vinyle")
CRITERIA = ("genre", "artist", "year_from", "year_to", "support", "label", "fact")


def run_query(config: Config, query: dict) -> list[dict]:
    """Albums matching `query` (only albums the library has), each with its plays, last play and a reason."""
    # No track lists: loading every album's tracks cost 0.6 s of 0.8 s for 1,000 albums.
    albums = db.session.scalars(select(Album).where(*_clauses(query)).options(lazyload(Album.tracks))).all()
    if query.get("label"):
        wanted = normalise(query["label"])
        albums = [a for a in albums if any(wanted in normalise(label) for label in a.labels or [])]
    plays = album_plays(albums)
    items = [album_item(album, *plays.get(album.id, (0, None))) for album in albums]
    items = _apply_fact(config, query, items)
    for item in items:
        item["reason"] = "; ".join(part for part in (_match_reason(query, item), item.pop("fact_reason", "")) if part)
    return items[: query.get("limit", 50)]


def _clauses(query: dict) -> list:
    clauses = []
    if query.get("owned", True):
        clauses.append(Album.in_collection.is_(True))
    if query.get("genre"):
        clauses.append(func.lower(Album.genre).like(f"%{escape_like(query['genre'].strip().lower())}%", escape="\\"))
    if query.get("support"):
        wanted = query["support"].strip().lower()
        # AIME names vinyl "Vinyle" (Discogs imports, the demo data); the English "Vinyl" must find it too.
        clauses.append(func.lower(Album.support).in_(VINYL if wanted in VINYL else (wanted,)))
    if query.get("year_from") is not None:
        clauses.append(Album.year >= query["year_from"])
    if query.get("year_to") is not None:
        clauses.append(Album.year <= query["year_to"])
    if query.get("artist"):
        clauses.append(exists().where(AlbumArtist.album_id == Album.id, AlbumArtist.artist_id == Artist.id,
                                      Artist.name_key.like(contains(query["artist"]), escape="\\")))
    return clauses


def album_plays(albums: list[Album]) -> dict[int, tuple[int, int | None]]:
    """(plays, last play) of each album that has plays, from the per-track rollup (no scan of the listens)."""
    ids = [a.id for a in albums]
    result: dict[int, tuple[int, int | None]] = {}
    for chunk in range(0, len(ids), 500):  # bounded IN lists on every database
        for album_id, count, last in db.session.execute(
                select(Track.album_id, func.sum(Totals.plays), func.max(Totals.last_played_at))
                .join(Totals, Totals.track_id == Track.id)
                .where(one_of(Track.album_id, ids[chunk:chunk + 500])).group_by(Track.album_id)):
            result[album_id] = (int(count), last)
    return result


def album_item(album: Album, plays: int, last: int | None) -> dict:
    """An album as collections show it."""
    return {"id": album.id, "title": album.title, "artists": album.artists, "year": album.year,
            "support": album.support, "genre": album.genre, "labels": album.labels or [],
            "image_url": album.image_url, "in_collection": album.in_collection, "plays": plays,
            "last_played": last}


def _by_artist(item: dict) -> tuple:
    first = item["artists"][0].name.casefold() if item["artists"] else ""
    return first, item["year"] or 9999, item["title"].casefold(), item["id"]


def _apply_fact(config: Config, query: dict, items: list[dict]) -> list[dict]:
    fact = query.get("fact")
    items.sort(key=_by_artist)
    if fact == "never_played":
        kept = [i for i in items if i["plays"] == 0]
        for item in kept:
            item["fact_reason"] = "never played"
        return kept
    if fact == "most_played":
        kept = sorted((i for i in items if i["plays"]), key=lambda i: -i["plays"])
        for item in kept:
            item["fact_reason"] = plural(item["plays"], "play")
        return kept
    if fact == "not_played_for_days":
        return _not_played_for(ZoneInfo(config.timezone), items, query.get("days") or DEFAULT_DAYS)
    if fact == "winter_evenings":
        return _winter_evenings(ZoneInfo(config.timezone), items)
    return items


def _not_played_for(tz: ZoneInfo, items: list[dict], days: int) -> list[dict]:
    now = int(time.time())
    kept = [i for i in items if i["last_played"] is None or i["last_played"] < now - days * 86400]
    kept.sort(key=lambda i: i["last_played"] or 0)  # never played first, then the longest silence
    for item in kept:
        if item["last_played"] is None:
            item["fact_reason"] = "never played"
        else:
            since = (now - item["last_played"]) // 86400
            last = datetime.fromtimestamp(item["last_played"], tz).date().isoformat()
            item["fact_reason"] = f"last played {last}, {since} days ago"
    return kept


def _winter_evenings(tz: ZoneInfo, items: list[dict]) -> list[dict]:
    counts = {i["id"]: 0 for i in items if i["plays"]}
    ids = list(counts)
    for chunk in range(0, len(ids), 500):
        for album_id, played_at in db.session.execute(
                select(Track.album_id, Listen.played_at).join(Listen, Listen.track_id == Track.id)
                .where(one_of(Track.album_id, ids[chunk:chunk + 500]))):
            moment = datetime.fromtimestamp(played_at, tz)
            if moment.month in WINTER_MONTHS and moment.hour in EVENING_HOURS:
                counts[album_id] += 1
    kept = sorted((i for i in items if counts.get(i["id"])), key=lambda i: -counts[i["id"]])
    for item in kept:
        item["winter_evening_plays"] = counts[item["id"]]
        item["fact_reason"] = (f"{counts[item['id']]} of its {item['plays']} plays on winter evenings "
                               f"(Dec-Feb, 18:00-24:00 {tz.key})")
    return kept


def _match_reason(query: dict, item: dict) -> str:
    parts = []
    if query.get("genre") and item["genre"]:
        parts.append(item["genre"])
    if query.get("artist"):
        parts.append(", ".join(a.name for a in item["artists"]))
    if (query.get("year_from") is not None or query.get("year_to") is not None) and item["year"]:
        parts.append(str(item["year"]))
    if query.get("support") and item["support"]:
        parts.append(item["support"])
    if query.get("label"):
        wanted = normalise(query["label"])
        parts += [label for label in item["labels"] if wanted in normalise(label)][:1]
    return " · ".join(parts)
