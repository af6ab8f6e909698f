"""The magazine: numbered, dated editions composed from the listener's own data (and written by the AI when set).

Every number in an edition is read from the database here, before any writing; the AI only writes prose around
numbers it was given (magazine_writing.py drops prose carrying any other number).
"""
from __future__ import annotations

import random
import time
from datetime import datetime, UTC

from sqlalchemy import func, select

from ..config import Config
from ..database import run_write
from ..errors import NotFound
from ..extensions import db
from ..models import Album, Listen, MagazineEdition, TaskRun, Track
from ..models.rollup import TrackPlayTotal
from . import artists, collection_queries, magazine_writing, stats
from .paging import Page, paginate

HAIKU_ALBUMS = 3
SHELF_SIZE = 5
SHELVES = ({"name": "Back to the shelf", "query": {"fact": "not_played_for_days", "days": 730, "limit": SHELF_SIZE}},
           {"name": "The heavy rotation", "query": {"fact": "most_played", "limit": SHELF_SIZE}})


def generate_edition(config: Config, task_run_id: int | None = None) -> dict:
    """Compose the next edition from the data, have it written (AI when configured, else from the data), store it."""
    previous = _latest()
    number = (previous.number + 1) if previous else 1
    content = compose(config, number, previous.content if previous else {})
    db.session.rollback()  # hold no read transaction while the AI writes
    writer = magazine_writing.write(config, content)
    edition_id = run_write(_store, number, content, writer, task_run_id)
    return get_edition(edition_id)


def compose(config: Config, number: int, previous: dict) -> dict:
    """The edition's facts: featured artist, one album in depth, albums for haikus, a collection with reasons."""
    featured = _featured_artist(config, previous.get("featured_artist") or {})
    return {"featured_artist": featured, "album": _album_in_depth(featured, previous.get("album") or {}),
            "haikus": _haiku_albums(number), "collection": _shelf(config)}


def _featured_artist(config: Config, previous: dict) -> dict | None:
    # The most played artist of all time; the runner-up when the last edition already featured the leader.
    ranked = stats.top_artists(stats.period(config), 2)
    chosen = next((r for r in ranked if r["id"] != previous.get("artist_id")), ranked[0] if ranked else None)
    if chosen is None:
        return None
    detail = artists.artist_detail(chosen["id"], top=3)
    records = sorted(detail["albums_owned"] + detail["albums_heard"], key=lambda a: -a["plays"])[:3]
    return {"artist_id": detail["id"], "name": detail["name"], "plays": detail["play_count"],
            "first_played": detail["first_played"], "last_played": detail["last_played"],
            "records": [{"album_id": a["id"], "title": a["title"], "year": a["year"], "plays": a["plays"],
                         "owned": a["in_collection"]} for a in records if a["plays"]],
            "top_tracks": [{"title": t["title"], "plays": t["plays"]} for t in detail["top_tracks"]]}


def _album_in_depth(featured: dict | None, previous: dict) -> dict | None:
    # The most played record not by the featured artist (else any), not the one the last edition studied.
    plays = func.sum(TrackPlayTotal.plays)
    rows = db.session.execute(select(Track.album_id, plays).join(TrackPlayTotal, TrackPlayTotal.track_id == Track.id)
                              .where(Track.album_id.is_not(None)).group_by(Track.album_id)
                              .order_by(plays.desc(), Track.album_id).limit(20)).all()
    candidates = [db.session.get(Album, album_id) for album_id, _ in rows]
    fresh = [a for a in candidates if a.id != previous.get("album_id")] or candidates
    skip_artist = (featured or {}).get("artist_id")
    album = next((a for a in fresh if a.primary_artist_id != skip_artist), fresh[0] if fresh else None)
    return _album_facts(album) if album else None


def _album_facts(album: Album) -> dict:
    count, first, last, seconds = db.session.execute(
        select(func.count(Listen.id), func.min(Listen.played_at), func.max(Listen.played_at),
               func.coalesce(func.sum(func.coalesce(Track.duration_seconds, 0)), 0))
        .join(Track, Track.id == Listen.track_id).where(Track.album_id == album.id)).one()
    per_track = db.session.execute(
        select(Track.title, func.count(Listen.id).label("plays")).join(Listen, Listen.track_id == Track.id)
        .where(Track.album_id == album.id).group_by(Track.id, Track.title)
        .order_by(func.count(Listen.id).desc(), Track.title).limit(3)).all()
    listed = [t for t in album.tracks if t.track_number is not None]
    heard = db.session.scalar(select(func.count(func.distinct(Listen.track_id))).join(Track)
                              .where(Track.album_id == album.id, Track.track_number.is_not(None)))
    return {"album_id": album.id, "title": album.title, "artists": [a.name for a in album.artists],
            "artist_id": album.primary_artist_id, "year": album.year, "genre": album.genre,
            "owned": album.in_collection,
            "plays": count, "first_played": first, "last_played": last, "listening_seconds": int(seconds),
            "tracks": len(listed), "tracks_heard": heard or 0,
            "top_tracks": [{"title": title, "plays": plays} for title, plays in per_track]}


def _haiku_albums(number: int) -> list[dict]:
    # Chosen at random among the owned records, seeded by the edition number: the same edition, the same records.
    ids = list(db.session.scalars(select(Album.id).where(Album.in_collection.is_(True)).order_by(Album.id)))
    chosen = sorted(random.Random(number).sample(ids, min(HAIKU_ALBUMS, len(ids))))
    albums = collection_queries.album_plays([db.session.get(Album, i) for i in chosen])
    result = []
    for album_id in chosen:
        album = db.session.get(Album, album_id)
        result.append({"album_id": album.id, "title": album.title, "artists": [a.name for a in album.artists],
                       "year": album.year, "plays": albums.get(album.id, (0, None))[0]})
    return result


def _shelf(config: Config) -> dict | None:
    for shelf in SHELVES:
        items = collection_queries.run_query(config, shelf["query"])
        if items:
            return {"name": shelf["name"], "query": shelf["query"],
                    "items": [{"album_id": i["id"], "title": i["title"], "artists": [a.name for a in i["artists"]],
                               "plays": i["plays"], "reason": i["reason"]} for i in items]}
    return None


def _store(number: int, content: dict, writer: str, task_run_id: int | None) -> int:
    month = datetime.now(UTC).strftime("%B %Y")
    edition = MagazineEdition(number=number, title=f"No. {number} · {month}", writer=writer, content=content,
                              task_run_id=task_run_id, created_at=int(time.time()))
    db.session.add(edition)
    db.session.flush()
    return edition.id


def _latest() -> MagazineEdition | None:
    return db.session.scalar(select(MagazineEdition).order_by(MagazineEdition.number.desc()).limit(1))


def running_task_run() -> int | None:
    """The magazine task's run in progress, if any (its edition records it)."""
    return db.session.scalar(select(TaskRun.id).where(TaskRun.task == "magazine", TaskRun.status == "running")
                             .order_by(TaskRun.id.desc()).limit(1))


def get_edition(edition_id: int) -> dict:
    """One edition, or 404."""
    edition = db.session.get(MagazineEdition, edition_id)
    if edition is None:
        raise NotFound(f"Magazine edition {edition_id} does not exist.")
    return _edition_dict(edition, full=True)


def list_editions(page: int = 1, page_size: int = 30, task_run_id: int | None = None) -> Page:
    """Editions, newest first (optionally the one a task run wrote)."""
    where = [MagazineEdition.task_run_id == task_run_id] if task_run_id is not None else []
    total = db.session.scalar(select(func.count(MagazineEdition.id)).where(*where)) or 0
    return paginate(select(MagazineEdition).where(*where).order_by(MagazineEdition.number.desc()), page, page_size,
                    lambda edition: _edition_dict(edition, full=False), total=total)


def _edition_dict(edition: MagazineEdition, full: bool) -> dict:
    data = {"id": edition.id, "number": edition.number, "title": edition.title, "writer": edition.writer,
            "created_at": edition.created_at, "task_run_id": edition.task_run_id}
    if full:
        data.update(edition.content)
    return data


def to_markdown(edition: dict) -> str:
    """An edition as Markdown (the scheduled task's output file)."""
    lines = [f"# AIME Magazine · {edition['title']}", ""]
    featured, album, shelf = edition.get("featured_artist"), edition.get("album"), edition.get("collection")
    if featured:
        lines += [f"## The artist: {featured['name']}", "", featured["text"], ""]
    if album:
        lines += [f"## In depth: {album['title']}", "", album["text"], ""]
    if edition.get("haikus"):
        lines += ["## Haikus", ""]
        for item in edition["haikus"]:
            lines += [f"### {item['title']}", ""] + [f"{line}  " for line in item["haiku"].split("\n")] + [""]
    if shelf:
        lines += [f"## {shelf['name']}", "", shelf["intro"], ""]
        lines += [f"- {i['title']} — {', '.join(i['artists'])}: {i['reason']}" for i in shelf["items"]] + [""]
    if not (featured or album or shelf or edition.get("haikus")):
        lines += ["Nothing to write about yet: add records and listen to them.", ""]
    return "\n".join(lines).rstrip() + "\n"
