"""What scrobbling clients read back and change: listens, counts, playing now, feedback (love), deletions.

Shapes are ListenBrainz' (listenbrainz-server views/api.py and feedback_api.py); the single AIME user is
Config.user_name. recording_msid is derived from the names (importers.submit.recording_msid): no storage.
"""
from __future__ import annotations

import time
import uuid

from sqlalchemy import delete, false, func, select, update

from ..database import run_write
from ..extensions import db
from ..models import Album, Artist, Listen, ServiceState, Setting, Track
from . import rollups
from .importers.submit import NOW_PLAYING, ListenBrainzError, msid_bytes, msid_of_keys, recording_msid
from .sql_lists import one_of

DEFAULT_ITEMS_PER_GET = 25
MAX_ITEMS_PER_GET = 1000
LATEST_IMPORT_KEY = "listenbrainz.latest_import.{service}"
IMPORT_SERVICES = ("lastfm", "librefm", "spotify", "listenbrainz")


def _listens_select():
    return (select(Listen.played_at, Listen.created_at, Listen.client, Track.id.label("track_id"),
                   Track.title, Artist.name.label("artist"), Album.title.label("album"),
                   Artist.name_key, Track.title_key, Album.title_key.label("album_key"))
            .join(Track, Track.id == Listen.track_id)
            .join(Artist, Artist.id == Track.artist_id)
            .outerjoin(Album, Album.id == Track.album_id))


def _listen_json(row, user_name: str) -> dict:
    msid = msid_of_keys(row.name_key, row.title_key, row.album_key)
    info = {"recording_msid": msid}
    if row.client:
        info["submission_client"] = row.client
    meta = {"artist_name": row.artist, "track_name": row.title, "additional_info": info}
    if row.album:
        meta["release_name"] = row.album
    return {"listened_at": row.played_at, "inserted_at": row.created_at, "recording_msid": msid,
            "user_name": user_name, "track_metadata": meta}


def listens(user_name: str, min_ts: int | None, max_ts: int | None, count: int) -> dict:
    """Listens newest first; max_ts and min_ts are exclusive bounds, as upstream's."""
    query = _listens_select()
    if max_ts is not None:
        query = query.where(Listen.played_at < max_ts)
    if min_ts is not None:
        query = query.where(Listen.played_at > min_ts)
    if min_ts is not None and max_ts is None:
        # Upstream: with only min_ts, the `count` listens right after it (then shown newest first).
        rows = db.session.execute(query.order_by(Listen.played_at.asc(), Listen.track_id.asc()).limit(count)).all()
        rows.reverse()
    else:
        rows = db.session.execute(query.order_by(Listen.played_at.desc(), Listen.track_id.desc()).limit(count)).all()
    latest, oldest = db.session.execute(select(func.max(Listen.played_at), func.min(Listen.played_at))).one()
    items = [_listen_json(row, user_name) for row in rows]
    return {"payload": {"count": len(items), "user_id": user_name, "listens": items,
                        "latest_listen_ts": latest or 0, "oldest_listen_ts": oldest or 0}}


def listen_count() -> dict:
    """How many listens are stored."""
    return {"payload": {"count": db.session.scalar(select(func.count()).select_from(Listen))}}


def playing_now(user_name: str) -> dict:
    """The current playing_now listen, if it has not expired."""
    state = db.session.get(ServiceState, NOW_PLAYING)
    items = []
    if state is not None and state.active and (state.state or {}).get("expires_at", 0) > time.time():
        now = state.state
        info = {"recording_msid": now.get("recording_msid") or recording_msid(now["artist"], now["title"],
                                                                               now.get("album"))}
        if now.get("client"):
            info["submission_client"] = now["client"]
        if now.get("duration"):
            info["duration"] = now["duration"]
        meta = {"artist_name": now["artist"], "track_name": now["title"], "additional_info": info}
        if now.get("album"):
            meta["release_name"] = now["album"]
        items.append({"track_metadata": meta, "user_name": user_name, "playing_now": True})
    return {"payload": {"count": len(items), "user_id": user_name, "playing_now": True, "listens": items}}


def clear_playing_now(client: str | None) -> dict:
    """Forget playing_now (only if it came from `client`, when one is named)."""
    return run_write(_clear_playing_now, client)


def _clear_playing_now(client: str | None) -> dict:
    state = db.session.get(ServiceState, NOW_PLAYING)
    if state is None or not state.active or (state.state or {}).get("expires_at", 0) <= time.time():
        return {"status": "ok", "message": "Playing now was already cleared"}
    if client and state.state.get("client") and state.state["client"] != client:
        raise ListenBrainzError(404, "No playing now listen found for the specified client.")
    state.active = False
    state.state = {}
    return {"status": "ok", "message": "Playing now cleared successfully"}


def latest_import(service: str) -> int:
    """The newest listened_at a client said it imported from `service` (0 if none)."""
    row = db.session.get(Setting, LATEST_IMPORT_KEY.format(service=service))
    return int(row.value) if row is not None and isinstance(row.value, int) else 0


def set_latest_import(service: str, ts: int) -> None:
    """Remember the newest imported listened_at of `service`; it never moves back."""
    run_write(_set_latest_import, service, ts)


def _set_latest_import(service: str, ts: int) -> None:
    key = LATEST_IMPORT_KEY.format(service=service)
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=ts))
    elif not isinstance(row.value, int) or ts > row.value:
        row.value = ts


def _tracks_with_keys():
    return (select(Track.id, Artist.name_key, Track.title_key, Album.title_key.label("album_key"), Track.recording_mbid)
            .join(Artist, Artist.id == Track.artist_id).outerjoin(Album, Album.id == Track.album_id))


def track_ids_of_msid(msid: str) -> list[int]:
    """Tracks whose stored keys give this recording_msid (a scan of the keys: msids are derived, not stored)."""
    target = uuid.UUID(msid).bytes
    rows = db.session.execute(_tracks_with_keys().execution_options(yield_per=5000))
    return [row.id for row in rows if msid_bytes(row.name_key, row.title_key, row.album_key) == target]


def set_feedback(msid: str | None, mbid: str | None, score: int) -> None:
    """Score 1 loves the recording, 0 and -1 unlove it (AIME has love only)."""
    if msid:
        run_write(_set_feedback, msid, score)
    else:
        run_write(_set_feedback_by_mbid, mbid, score)


def _set_feedback_by_mbid(mbid: str, score: int) -> None:
    # Tracks keep the MusicBrainz recording id their imports and scrobbles carried (clients such as
    # liblistenbrainz and the Jellyfin plugin send feedback by MBID only).
    ids = db.session.scalars(select(Track.id).where(func.lower(Track.recording_mbid) == mbid.lower())).all()
    if not ids:
        raise ListenBrainzError(404, f"No recording with recording_mbid {mbid} is known to AIME; "
                                     "send its recording_msid instead.")
    db.session.execute(update(Track).where(one_of(Track.id, ids)).values(loved=score == 1))


def _set_feedback(msid: str, score: int) -> None:
    ids = track_ids_of_msid(msid)
    if not ids:
        raise ListenBrainzError(404, f"No recording with recording_msid {msid} is known to AIME.")
    db.session.execute(update(Track).where(one_of(Track.id, ids)).values(loved=score == 1))


def feedback(user_name: str, score: int | None, count: int, offset: int) -> dict:
    """Loved recordings as upstream's feedback list (score 1); AIME keeps no hate (-1) or times."""
    query = _tracks_with_keys().where(Track.loved.is_(True))
    if score == -1:
        query = query.where(false())
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(Track.id).limit(count).offset(offset)).all()
    items = [{"created": 0, "recording_mbid": r.recording_mbid, "score": 1, "track_metadata": None,
              "user_id": user_name,
              "recording_msid": msid_of_keys(r.name_key, r.title_key, r.album_key)} for r in rows]
    return {"feedback": items, "count": len(items), "total_count": total, "offset": offset}


def delete_listen(listened_at: int, msid: str) -> None:
    """Delete the listen at `listened_at` whose names give `msid` (no such listen: nothing to do, as upstream)."""
    run_write(_delete_listen, listened_at, msid)


def _delete_listen(listened_at: int, msid: str) -> None:
    rows = db.session.execute(_listens_select().add_columns(Listen.id).where(Listen.played_at == listened_at)).all()
    gone = [row for row in rows if msid_of_keys(row.name_key, row.title_key, row.album_key) == msid]
    if gone:
        db.session.execute(delete(Listen).where(one_of(Listen.id, [row.id for row in gone])))
        rollups.listens_removed(db.session, [(row.track_id, row.played_at) for row in gone])
