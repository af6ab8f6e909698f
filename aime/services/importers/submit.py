"""ListenBrainz-compatible submissions: upstream's validation, then the import pipeline with exact dedup."""
from __future__ import annotations

import hashlib
import json
import time
import uuid

from ...database import run_write
from ...extensions import db
from ...models import ServiceState
from ...text import normalise
from .common import RowError, text
from .lb_validation import ListenValidationError, validate_listen
from .listenbrainz import listen_play
from .pipeline import write_plays
from .records import Play
from .resolve import CatalogCache

MAX_LISTENS_PER_REQUEST = 1000
MAX_LISTEN_SIZE = 10240  # bytes per listen, on average over the body, as upstream measures it
MAX_LISTEN_PAYLOAD_SIZE = MAX_LISTEN_SIZE * MAX_LISTENS_PER_REQUEST  # 10,240,000 bytes
NAME_LIMIT = 500  # AIME's column width: longer names (which upstream keeps) are cut, not refused
NOW_PLAYING = "now_playing"
PLAYING_NOW_MAX_SECONDS = 600  # upstream's PLAYING_NOW_MAX_DURATION
LISTEN_TYPES = ("single", "import", "playing_now")
# Exact de-duplication: API clients send second-precise listened_at, so only an equal instant is the same play.
API_DEDUP_WINDOW = 0
_MSID_NAMESPACE = uuid.UUID("6f6d6b2e-6169-6d65-2e72-65636f726469")


class ListenBrainzError(Exception):
    """An error answered the ListenBrainz way: {"code": status, "error": message}."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _bad(message: str) -> ListenBrainzError:
    return ListenBrainzError(400, message)


def recording_msid(artist: str, title: str, release: str | None) -> str:
    """A stable recording_msid: the same normalised artist/title/release always give the same id."""
    return msid_of_keys(normalise(artist[:NAME_LIMIT]), normalise(title[:NAME_LIMIT]),
                        normalise((release or "")[:NAME_LIMIT]))


def msid_of_keys(artist_key: str, title_key: str, album_key: str | None) -> str:
    """The recording_msid of stored, already normalised keys (Artist.name_key, Track.title_key, Album.title_key)."""
    return str(uuid.UUID(bytes=msid_bytes(artist_key, title_key, album_key)))


def msid_bytes(artist_key: str, title_key: str, album_key: str | None) -> bytes:
    """uuid5(namespace, keys).bytes, computed without building a UUID (scans compare millions of these)."""
    key = "\x1f".join((artist_key, title_key, album_key or ""))
    digest = bytearray(hashlib.sha1(_MSID_NAMESPACE.bytes + key.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return bytes(digest)


def parse_submission(body: bytes) -> tuple[str, list[dict]]:
    """(listen_type, validated listens) of a submit-listens body, or ListenBrainzError(400) naming the problem."""
    data = _document(body)
    payload = _payload(data, body)
    listen_type = _listen_type(data, payload)
    try:
        return listen_type, [validate_listen(listen, listen_type == "playing_now") for listen in payload]
    except ListenValidationError as error:
        raise _bad(str(error)) from None


def _document(body: bytes) -> dict:
    """The body as a JSON object, checked in upstream's order (size, then syntax, then top-level type)."""
    if len(body) > MAX_LISTEN_PAYLOAD_SIZE:
        raise _bad(f"Payload too large. Payload cannot exceed {MAX_LISTEN_PAYLOAD_SIZE} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _bad(f"Cannot parse JSON document: {str(error)[:200]}") from None
    except RecursionError:
        raise _bad("Cannot parse JSON document: nested too deeply.") from None
    if not isinstance(data, dict):
        raise _bad("Invalid JSON document submitted. Top level of JSON document should be a json object.")
    return data


def _payload(data: dict, body: bytes) -> list:
    """The document's list of listens: present, not empty, not too many, not too large on average."""
    if "payload" not in data:
        raise _bad("Invalid JSON document submitted.")
    payload = data["payload"]
    if not isinstance(payload, list):
        raise _bad("The payload in the JSON document should be a list of listens.")
    if not payload:
        raise _bad("JSON document does not contain any listens")
    if len(payload) > MAX_LISTENS_PER_REQUEST:
        raise _bad(f"Too many listens. You may not submit more than {MAX_LISTENS_PER_REQUEST} listens at once.")
    # Upstream measures the body in UTF-8 bytes, on average per listen: a long CJK listen is fine.
    if len(body) > len(payload) * MAX_LISTEN_SIZE:
        raise _bad(f"JSON document is too large. Each listens may not be larger than {MAX_LISTEN_SIZE} bytes.")
    return payload


def _listen_type(data: dict, payload: list) -> str:
    """The document's listen_type: a known one, with a single listen for single and playing_now."""
    if "listen_type" not in data:
        raise _bad("Invalid JSON document submitted.")
    listen_type = data["listen_type"]
    if listen_type not in LISTEN_TYPES:
        raise _bad("JSON document requires a valid listen_type key.")
    if listen_type in ("single", "playing_now") and len(payload) > 1:
        raise _bad("JSON document contains more than listen for a single/playing_now. It should contain only one.")
    return listen_type


def listen_to_play(index: int, listen: dict) -> Play:
    """One validated API listen as a Play (names cut to AIME's 500 characters; client from additional_info)."""
    meta = dict(listen["track_metadata"])
    for key in ("artist_name", "track_name", "release_name"):
        if isinstance(meta.get(key), str):
            meta[key] = meta[key][:NAME_LIMIT]
    return listen_play(index, {"listened_at": listen["listened_at"], "track_metadata": meta})


def submit(body: bytes, return_msid: bool = False) -> dict:
    """Store the listens of a submit-listens body (the same track at the same second is stored once)."""
    listen_type, payload = parse_submission(body)
    if listen_type == "playing_now":
        msid = run_write(set_playing_now, payload[0]["track_metadata"])
        return {"status": "ok", "recording_msid": msid} if return_msid else {"status": "ok"}
    try:
        plays = [listen_to_play(i, listen) for i, listen in enumerate(payload)]
    except RowError as error:
        raise _bad(str(error)) from None
    store_plays(plays, "listenbrainz")
    return {"status": "ok"}


def store_plays(plays: list[Play], source: str) -> None:
    """Write plays received from a scrobbling client, de-duplicated on the exact instant."""
    run_write(lambda: write_plays(db.session, CatalogCache(source), plays, window=API_DEDUP_WINDOW, source=source))


def set_playing_now(meta: dict) -> str:
    """Remember what plays now (shared by every worker: it is a row), until its duration or 10 minutes pass."""
    info = meta.get("additional_info") or {}
    seconds = info.get("duration") or (info.get("duration_ms") or 0) // 1000 or PLAYING_NOW_MAX_SECONDS
    now = int(time.time())
    state = db.session.get(ServiceState, NOW_PLAYING)
    if state is None:
        state = ServiceState(name=NOW_PLAYING)
        db.session.add(state)
    artist, title = text(meta["artist_name"], "artist")[:NAME_LIMIT], text(meta["track_name"], "title")[:NAME_LIMIT]
    album = meta.get("release_name")
    msid = recording_msid(artist, title, album)
    client = info.get("submission_client") or info.get("media_player")
    state.active = True
    state.state = {"artist": artist, "title": title, "album": album[:NAME_LIMIT] if album else None,
                   "client": client[:200] if isinstance(client, str) else None, "duration": int(seconds),
                   "recording_msid": msid, "since": now, "expires_at": now + int(seconds)}
    return msid
