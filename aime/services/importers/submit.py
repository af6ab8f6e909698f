"""ListenBrainz-compatible submissions: validation as ListenBrainz documents it, then the import pipeline."""
from __future__ import annotations

import json
import time

from ...config import Config
from ...database import run_write
from ...extensions import db
from ...models import ServiceState
from .common import UNSTORABLE, RowError, text
from .listenbrainz import listen_play
from .pipeline import write_plays
from .resolve import CatalogCache

MAX_LISTENS_PER_REQUEST = 1000
MAX_LISTEN_SIZE = 10240  # bytes of one listen, as ListenBrainz enforces
LISTEN_MINIMUM_TS = 1033430400  # 2002-10-01, ListenBrainz' lower bound
NOW_PLAYING = "now_playing"
LISTEN_TYPES = ("single", "import", "playing_now")


class ListenBrainzError(Exception):
    """An error answered the ListenBrainz way: {"code": status, "error": message}."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _bad(message: str) -> ListenBrainzError:
    return ListenBrainzError(400, message)


def parse_submission(body: bytes) -> tuple[str, list[dict]]:
    """(listen_type, listens) of a submit-listens body, or ListenBrainzError(400) naming the problem."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _bad(f"Cannot parse JSON document: {str(error)[:200]}") from None
    except RecursionError:
        raise _bad("Cannot parse JSON document: nested too deeply.") from None
    if not isinstance(data, dict) or "payload" not in data or "listen_type" not in data:
        raise _bad("Invalid JSON document submitted.")
    listen_type, payload = data["listen_type"], data["payload"]
    if listen_type not in LISTEN_TYPES:
        raise _bad("JSON document requires a valid listen_type key: one of single, import or playing_now.")
    if not isinstance(payload, list):
        raise _bad("The payload in the JSON document should be a list of listens.")
    if not payload:
        raise _bad("JSON document does not contain any listens.")
    if listen_type in ("single", "playing_now") and len(payload) != 1:
        raise _bad(f"JSON document should contain exactly one listen for listen_type {listen_type}.")
    if len(payload) > MAX_LISTENS_PER_REQUEST:
        raise _bad(f"Too many listens. You may not submit more than {MAX_LISTENS_PER_REQUEST} listens at once.")
    for listen in payload:
        _validate_listen(listen, listen_type)
    return listen_type, payload


def _validate_listen(listen, listen_type: str) -> None:
    if not isinstance(listen, dict):
        raise _bad("Each listen in the payload should be a JSON object.")
    if len(json.dumps(listen)) > MAX_LISTEN_SIZE:
        raise _bad(f"JSON document is too large. In aggregate, listens may not exceed {MAX_LISTEN_SIZE} bytes.")
    if listen_type == "playing_now":
        if "listened_at" in listen:
            raise _bad("JSON document must not contain listened_at while submitting playing_now.")
    else:
        if "listened_at" not in listen:
            raise _bad("JSON document must contain the key listened_at at the top level.")
        stamp = listen["listened_at"]
        if not isinstance(stamp, int) or isinstance(stamp, bool):
            raise _bad("JSON document must contain an int value for listened_at.")
        if stamp < LISTEN_MINIMUM_TS:
            raise _bad(f"Value for key listened_at is too low. listened_at timestamp should be greater "
                       f"than {LISTEN_MINIMUM_TS}.")
        if stamp > time.time() + 24 * 3600:
            raise _bad("Value for key listened_at is in the future.")
    meta = listen.get("track_metadata")
    if not isinstance(meta, dict):
        raise _bad("JSON document must contain the key track_metadata at the top level.")
    for key in ("artist_name", "track_name"):
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _bad(f"JSON document does not contain required track_metadata.{key}.")
        if len(value) > 500:
            raise _bad(f"track_metadata.{key} is too long (500 characters at most).")
        if UNSTORABLE.search(value):
            raise _bad(f"track_metadata.{key} contains a NUL character or an invalid code point.")
    if "additional_info" in meta and not isinstance(meta["additional_info"], dict):
        raise _bad("track_metadata.additional_info must be a JSON object.")


def submit(config: Config, body: bytes) -> dict:
    """Store the listens of a submit-listens body (duplicates within the window are ignored)."""
    listen_type, payload = parse_submission(body)
    if listen_type == "playing_now":
        run_write(_set_now_playing, payload[0])
        return {"status": "ok"}
    try:
        plays = [listen_play(i, listen) for i, listen in enumerate(payload)]
    except RowError as error:
        raise _bad(str(error)) from None
    run_write(_store, plays, config.dedup_window_seconds)
    return {"status": "ok"}


def _store(plays, window: int) -> None:
    write_plays(db.session, CatalogCache("listenbrainz"), plays, window=window, source="listenbrainz")


def _set_now_playing(listen: dict) -> None:
    meta = listen["track_metadata"]
    info = meta.get("additional_info") or {}
    duration = info.get("duration_ms")
    seconds = duration / 1000 if isinstance(duration, (int, float)) and duration > 0 else info.get("duration")
    seconds = seconds if isinstance(seconds, (int, float)) and 0 < seconds < 24 * 3600 else 600
    now = int(time.time())
    state = db.session.get(ServiceState, NOW_PLAYING)
    if state is None:
        state = ServiceState(name=NOW_PLAYING)
        db.session.add(state)
    state.active = True
    state.state = {"artist": text(meta["artist_name"], "artist"), "title": text(meta["track_name"], "title"),
                   "album": text(meta.get("release_name"), "album", required=False) if isinstance(
                       meta.get("release_name"), str) else None,
                   "client": info.get("submission_client") if isinstance(info.get("submission_client"), str) else None,
                   "since": now, "expires_at": now + int(seconds)}
