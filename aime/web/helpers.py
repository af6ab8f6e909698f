"""Template helpers: the viewer's time zone, local times, durations, flashes of results, paging links."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, request, url_for
from marshmallow import EXCLUDE, Schema, ValidationError

from ..config import current_config
from ..errors import InvalidInput
from ..text import plural
from . import security

TZ_COOKIE = "aime_tz"


def viewer_tz() -> ZoneInfo:
    """The viewer's zone: ?tz=, else the cookie the page script sets from the browser, else AIME_TIMEZONE."""
    for name in (request.args.get("tz"), unquote(request.cookies.get(TZ_COOKIE, ""))):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo(current_config().timezone)


def local_time(epoch: int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Epoch seconds shown in the viewer's zone."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, viewer_tz()).strftime(fmt)


def iso_time(epoch: int | None) -> str:
    """Epoch seconds as an ISO 8601 instant for <time datetime=...>."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, viewer_tz()).isoformat()


def duration(seconds: int | None) -> str:
    """Seconds as m:ss or h:mm:ss."""
    if not seconds:
        return "—"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def listening_time(seconds: int | None) -> str:
    """Total listening time for a card: minutes below an hour ("18 min"), else hours to one decimal ("2.5 h")."""
    seconds = int(seconds or 0)
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def parse(schema: Schema, data, **kwargs) -> dict:
    """Load query or form data with an API schema; blank fields are absent; bad input is a 422 page."""
    cleaned = {key: value for key, value in data.items() if not (isinstance(value, str) and value.strip() == "")}
    try:
        return schema.load(cleaned, unknown=EXCLUDE, **kwargs)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        raise InvalidInput("Some fields are invalid: " + "; ".join(
            f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for field, msgs in messages.items()), errors=messages) from None


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), else None (imported data may carry anything; never a javascript: link)."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


def page_url(page: int) -> str:
    """The current page's URL with another ?page= (other filters kept)."""
    args = request.args.to_dict()
    args["page"] = page
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def register_template_helpers(app: Flask) -> None:
    """Filters and globals the templates use."""
    app.add_template_filter(local_time, "localtime")
    app.add_template_filter(iso_time, "isotime")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(listening_time, "listening_time")
    app.add_template_filter(safe_url, "safe_url")
    app.add_template_filter(plural, "plural")

    @app.context_processor
    def _web_globals():
        if request.blueprint != "web":
            return {}
        return {"csrf_token": security.csrf_token, "signed_in": security.signed_in(), "viewer_tz": viewer_tz().key,
                "private": security.is_private(), "page_url": page_url}
