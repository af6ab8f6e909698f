"""One ListenBrainz listen checked the way upstream checks it (listenbrainz-server views/api_tools.py).

Messages and limits are upstream's, so clients that show the error show what ListenBrainz would say.
Upstream also normalises in place (listened_at and durations to int, names stripped, empty MBIDs dropped);
so does this.
"""
from __future__ import annotations

import time
import uuid

from .common import UNSTORABLE

LISTEN_MINIMUM_TS = 1033430400  # 2002-10-01 UTC, upstream's LISTEN_MINIMUM_TS
LISTENED_AT_ALLOWED_SKEW = 3600  # upstream accepts listens up to one hour ahead of its clock
MAX_TAGS_PER_LISTEN = 50
MAX_TAG_SIZE = 64
MAX_DURATION_LIMIT = 24 * 24 * 60 * 60  # 24 days, in seconds
MAX_DURATION_MS_LIMIT = MAX_DURATION_LIMIT * 1000
SINGLE_MBID_KEYS = ("release_mbid", "recording_mbid", "release_group_mbid", "track_mbid")
MULTIPLE_MBID_KEYS = ("artist_mbids", "work_mbids")


class ListenValidationError(ValueError):
    """A listen upstream would refuse; the message is upstream's."""


def validate_listen(listen, playing_now: bool) -> dict:
    """The listen, normalised as upstream does, or ListenValidationError."""
    if listen is None:
        raise ListenValidationError("Listen is empty and cannot be validated.")
    if not isinstance(listen, dict):
        raise ListenValidationError("Each listen in the payload should be a JSON object.")
    if playing_now:
        _check_playing_now_keys(listen)
    else:
        _check_listen_keys(listen)
    meta = listen["track_metadata"]
    if meta is None:
        raise ListenValidationError("JSON document may not have track_metadata with null value.")
    if not isinstance(meta, dict):
        raise ListenValidationError("track_metadata must be a JSON object.")
    _basic(meta, "track_name")
    _basic(meta, "artist_name")
    _basic(meta, "release_name", required=False)
    if "additional_info" in meta:
        _check_additional_info(meta)
    _check_no_nul(listen)
    return listen


def _check_listen_keys(listen: dict) -> None:
    validate_listened_at(listen)
    if "track_metadata" not in listen:
        raise ListenValidationError("JSON document must contain the key track_metadata at the top level.")
    if len(listen) > 2:
        raise ListenValidationError("JSON document may only contain listened_at and track_metadata top level keys")


def _check_playing_now_keys(listen: dict) -> None:
    if "listened_at" in listen:
        raise ListenValidationError("JSON document must not contain listened_at while submitting playing_now.")
    if "track_metadata" not in listen:
        raise ListenValidationError("JSON document must contain the key track_metadata at the top level.")
    if len(listen) > 1:
        raise ListenValidationError("JSON document may only contain track_metadata as top level key when "
                                    "submitting playing_now.")


def validate_listened_at(listen: dict) -> None:
    """listened_at made an int (numeric strings and floats are converted, as upstream does) within bounds."""
    if "listened_at" not in listen:
        raise ListenValidationError("JSON document must contain the key listened_at at the top level.")
    try:
        listen["listened_at"] = int(listen["listened_at"])
    except (ValueError, TypeError, OverflowError):
        raise ListenValidationError("JSON document must contain an int value for listened_at.") from None
    if listen["listened_at"] >= int(time.time()) + LISTENED_AT_ALLOWED_SKEW:
        raise ListenValidationError("Value for key listened_at is too high.")
    if listen["listened_at"] < LISTEN_MINIMUM_TS:
        raise ListenValidationError("Value for key listened_at is too low. listened_at timestamp should be "
                                    "greater than 1033410600 (2002-10-01 00:00:00 UTC).")


def _basic(meta: dict, key: str, required: bool = True) -> None:
    if key in meta:
        if not isinstance(meta[key], str):
            raise ListenValidationError(f"track_metadata.{key} must be a single string.")
        meta[key] = meta[key].strip()
        if not meta[key]:
            if required:
                raise ListenValidationError(f"field track_metadata.{key} is empty.")
            del meta[key]
        elif UNSTORABLE.search(meta[key]) and "\x00" not in meta[key]:
            # Upstream's JSON parser already refuses lone surrogates; NUL gets upstream's own message below.
            raise ListenValidationError(f"track_metadata.{key} contains an invalid (surrogate) code point.")
    elif required:
        raise ListenValidationError(f"JSON document does not contain required field track_metadata.{key}.")


def _check_additional_info(meta: dict) -> None:
    info = meta["additional_info"]
    if info is None:
        return
    if not isinstance(info, dict):
        raise ListenValidationError("track_metadata.additional_info must be a JSON object.")
    if "tags" in info:
        _check_tags(info["tags"])
    if "duration" in info and "duration_ms" in info:
        raise ListenValidationError("JSON document should not contain both duration and duration_ms.")
    _duration(info, "duration", MAX_DURATION_LIMIT)
    _duration(info, "duration_ms", MAX_DURATION_MS_LIMIT)
    _check_mbids(info)


def _check_tags(tags) -> None:
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ListenValidationError("track_metadata.additional_info.tags must be a list of strings.")
    if len(tags) > MAX_TAGS_PER_LISTEN:
        raise ListenValidationError(f"JSON document may not contain more than {MAX_TAGS_PER_LISTEN} items in "
                                    "track_metadata.additional_info.tags.")
    if any(len(tag) > MAX_TAG_SIZE for tag in tags):
        raise ListenValidationError("JSON document may not contain track_metadata.additional_info.tags "
                                    f"longer than {MAX_TAG_SIZE} characters.")


def _check_mbids(info: dict) -> None:
    """Null and empty MBIDs are dropped (as upstream does), malformed ones refused."""
    for key in SINGLE_MBID_KEYS:
        if key in info:
            if not info[key]:
                del info[key]  # upstream drops null and "" MBIDs silently
            elif not is_uuid(info[key]):
                raise ListenValidationError(f"{key} MBID format invalid.")
    for key in MULTIPLE_MBID_KEYS:
        if key in info:
            if not info[key]:
                del info[key]
                continue
            if not isinstance(info[key], list):
                raise ListenValidationError(f"{key} MBID format invalid.")
            mbids = [mbid for mbid in info[key] if mbid]
            if not all(is_uuid(mbid) for mbid in mbids):
                raise ListenValidationError(f"{key} MBID format invalid.")
            info[key] = mbids


def _duration(info: dict, key: str, limit: int) -> None:
    if key not in info:
        return
    try:
        value = int(float(info[key]))
    except (ValueError, TypeError, OverflowError):
        raise ListenValidationError(f"Value for {key} is invalid, should be a positive integer.") from None
    if value <= 0:
        raise ListenValidationError(f"Value for {key} is invalid, should be a positive integer.")
    if value > limit:
        raise ListenValidationError(f"Value for {key} is too large, max permitted value is {limit}")
    info[key] = value


def is_uuid(value) -> bool:
    """True for a UUID in any of the forms uuid.UUID reads (upstream's MBID/MSID check)."""
    try:
        uuid.UUID(value)
    except (AttributeError, TypeError, ValueError):
        return False
    return True


def _check_no_nul(value) -> None:
    """NUL anywhere (nested dicts, lists) is refused: PostgreSQL cannot store it."""
    if isinstance(value, dict):
        for item in value.values():
            _check_no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _check_no_nul(item)
    elif isinstance(value, str) and "\x00" in value:
        raise ListenValidationError(f"{value} contains a unicode null")
