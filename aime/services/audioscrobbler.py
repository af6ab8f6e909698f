"""The Last.fm scrobbling protocols, as Libre.fm and Maloja serve them: Audioscrobbler 2.0 and legacy 1.2.

The single user is Config.user_name and the API token is the password. Session keys are derived from the token
(HMAC), so every worker accepts them and they survive restarts; rotating the token revokes them.
"""
from __future__ import annotations

import hashlib
import hmac
import time

from sqlalchemy import select, update

from ..database import run_write
from ..extensions import db
from ..models import Artist, Track
from ..text import normalise
from .catalog import get_or_create_artist, get_or_create_track
from .importers.common import RowError, play, text
from .importers.lb_validation import LISTEN_MINIMUM_TS, LISTENED_AT_ALLOWED_SKEW
from .importers.records import Play
from .importers.submit import NAME_LIMIT, set_playing_now, store_plays
from .sql_lists import one_of

MAX_SCROBBLES = 50
SOURCE = "lastfm-api"
# Last.fm's error codes (https://www.last.fm/api/errorcodes) and the HTTP status Last.fm answers them with.
ERRORS = {3: ("Invalid Method - No method with that name in this package", 400),
          4: ("Authentication Failed - You do not have permissions to access the service", 403),
          6: ("Invalid parameters - Your request is missing a required parameter", 400),
          9: ("Invalid session key - Please re-authenticate", 403),
          13: ("Invalid method signature supplied", 403),
          29: ("Rate limit exceeded - Your IP has made too many requests in a short period", 429)}


class LastfmError(Exception):
    """A Last.fm protocol error: its numeric code and message."""

    def __init__(self, code: int, message: str | None = None):
        super().__init__(message or ERRORS[code][0])
        self.code = code
        self.message = message or ERRORS[code][0]
        self.status = ERRORS[code][1]


def md5(value: str) -> str:
    """Hex MD5 of a UTF-8 string (the protocol's own hash)."""
    return hashlib.md5(value.encode("utf-8")).hexdigest()


def session_key(token: str, user_name: str) -> str:
    """The session key of the user: derived from the API token, the same in every worker and after restarts."""
    return hmac.new(token.encode(), f"aime-lastfm-session\x1f{user_name}".encode(), hashlib.sha256).hexdigest()[:32]


def check_session(token: str, user_name: str, given: str | None) -> None:
    """LastfmError 9 unless `given` is the session key."""
    if not given or not hmac.compare_digest(given.encode(), session_key(token, user_name).encode()):
        raise LastfmError(9)


def check_signature(params: dict, secret: str | None) -> None:
    """When a shared secret is configured, api_sig must be md5(sorted name+value pairs + secret)."""
    if not secret:
        return
    given = params.get("api_sig") or ""
    signed = "".join(f"{k}{params[k]}" for k in sorted(params) if k not in ("api_sig", "format", "callback"))
    if not hmac.compare_digest(given.lower().encode(), md5(signed + secret).encode()):
        raise LastfmError(13)


def mobile_session(params: dict, user_name: str, token_matches, token: str) -> str:
    """auth.getMobileSession: username plus password (the API token) or authToken = md5(user + md5(token))."""
    user, password, auth_token = params.get("username"), params.get("password"), params.get("authToken")
    if not user or not (password or auth_token):
        raise LastfmError(6, "Invalid parameters - username and password (or authToken) are required")
    if user.lower() != user_name.lower():
        raise LastfmError(4)
    ok = token_matches(password) if password else auth_token_ok(user, auth_token, token)
    if not ok:
        raise LastfmError(4)
    return session_key(token, user_name)


def auth_token_ok(user: str, auth_token: str, token: str) -> bool:
    """authToken = md5(username + md5(password)), with the API token as the password."""
    return hmac.compare_digest(auth_token.lower().encode(), md5(user + md5(token)).encode())


def scrobble_to_play(index: int, artist, track, album, timestamp) -> Play:
    """One Last.fm scrobble as a Play (names cut to 500 characters, as for ListenBrainz listens)."""
    try:
        moment = int(timestamp)
    except (TypeError, ValueError):
        raise RowError(f"timestamp[{index}] is not a UNIX timestamp") from None
    cut = [value[:NAME_LIMIT] if isinstance(value, str) else value for value in (artist, track, album)]
    return play(index, cut[0], cut[1], cut[2] or None, moment, client=None)


def indexed(params: dict, name: str, index: int):
    """`name[index]`, or plain `name` for a single unindexed scrobble."""
    return params.get(f"{name}[{index}]", params.get(name) if index == 0 else None)


def scrobble(params: dict, client: str | None = None) -> list[dict]:
    """track.scrobble: up to 50 indexed scrobbles; what each became (accepted, or ignored with a code)."""
    count = sum(1 for i in range(MAX_SCROBBLES + 1)
                if any(indexed(params, key, i) is not None for key in ("artist", "track", "timestamp")))
    if count == 0 or count > MAX_SCROBBLES:
        raise LastfmError(6, f"Invalid parameters - between 1 and {MAX_SCROBBLES} scrobbles per call")
    plays, results, now = [], [], time.time()
    for i in range(count):
        artist, track, album = (indexed(params, k, i) for k in ("artist", "track", "album"))
        stamp = indexed(params, "timestamp", i)
        if not artist or not track or stamp is None:
            raise LastfmError(6, f"Invalid parameters - artist[{i}], track[{i}] and timestamp[{i}] are required")
        try:
            item = scrobble_to_play(i, artist, track, album, stamp)
        except RowError as error:
            raise LastfmError(6, f"Invalid parameters - {error}") from None
        item.client = client
        ignored = (0, "")
        if item.played_at >= now + LISTENED_AT_ALLOWED_SKEW:
            ignored = (3, "Timestamp too new")
        elif item.played_at < LISTEN_MINIMUM_TS:
            ignored = (4, "Timestamp too old")
        else:
            plays.append(item)
        results.append({"artist": item.artist, "track": item.title, "album": item.album or "",
                        "timestamp": item.played_at, "ignored": ignored})
    if plays:
        store_plays(plays, SOURCE)
    return results


def now_playing(artist, track, album, duration, client: str | None = None) -> dict:
    """track.updateNowPlaying / 1.2 nowplaying: remember what plays now."""
    if not artist or not track:
        raise LastfmError(6, "Invalid parameters - artist and track are required")
    try:
        seconds = int(float(duration)) if duration not in (None, "") else None
    except ValueError:
        seconds = None
    info = {"duration": seconds} if seconds and 0 < seconds <= 24 * 24 * 3600 else {}
    if client:
        info["submission_client"] = client
    meta = {"artist_name": artist[:NAME_LIMIT], "track_name": track[:NAME_LIMIT], "additional_info": info}
    if album:
        meta["release_name"] = album[:NAME_LIMIT]
    run_write(set_playing_now, meta)
    return {"artist": meta["artist_name"], "track": meta["track_name"], "album": album or ""}


def set_love(artist, track, loved: bool) -> None:
    """track.love / track.unlove: every AIME track of that artist and title (loving an unknown one adds it)."""
    if not artist or not track:
        raise LastfmError(6, "Invalid parameters - artist and track are required")
    try:
        artist, track = text(artist[:NAME_LIMIT], "artist"), text(track[:NAME_LIMIT], "track")
    except RowError as error:
        raise LastfmError(6, f"Invalid parameters - {error}") from None
    run_write(_set_love, artist, track, loved)


def _set_love(artist: str, title: str, loved: bool) -> None:
    ids = db.session.scalars(select(Track.id).join(Artist, Artist.id == Track.artist_id).where(
        Artist.name_key == normalise(artist), Track.title_key == normalise(title))).all()
    if not ids and loved:
        ids = [get_or_create_track(title, get_or_create_artist(artist), None).id]
    if ids:
        db.session.execute(update(Track).where(one_of(Track.id, ids)).values(loved=loved))
