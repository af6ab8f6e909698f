"""Collection pages: the grid of covers with filters, adding an album, the album page and "I played this record"."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from flask import flash, redirect, render_template, request, url_for

from ..config import current_config
from ..errors import AimeError
from ..schemas.collection import AlbumCreateSchema, AlbumQuerySchema
from ..services import collection as collection_service
from ..services import history as history_service
from . import charts
from .blueprint import bp
from .helpers import parse, viewer_tz
from .security import login_required

PAGE_SIZE = 24


@bp.route("/collection")
def collection():
    """Covers of the owned albums, searchable and filtered by support, year, genre and artist."""
    query = parse(AlbumQuerySchema(), request.args)
    query.pop("page_size", None)
    page = collection_service.list_albums(page_size=PAGE_SIZE, **query)
    totals = collection_service.collection_stats()
    return render_template("collection.html", page=page, query=query, supports=list(totals["by_support"]),
                           totals=totals)


@bp.route("/collection/new", methods=["GET", "POST"])
@login_required
def new_album():
    """A form to add an album (artists comma-separated, one track per line as `Title | m:ss`)."""
    if request.method == "GET":
        return render_template("album_form.html", form={})
    try:
        data = parse(AlbumCreateSchema(), album_form_data(request.form))
        album = collection_service.create_album(data)
    except AimeError as error:
        flash(error.detail, "error")
        return render_template("album_form.html", form=request.form), error.status
    flash(f"Added “{album['title']}” to the collection.", "ok")
    return redirect(url_for("web.album", album_id=album["id"]))


@bp.route("/collection/<int:album_id>")
def album(album_id: int):
    """One record: tracks, labels, links, description, its plays over time, and the play button."""
    detail = collection_service.album_detail(album_id)
    plays = _album_plays(detail)
    return render_template("album.html", album=detail, recent=plays[:10], chart=_plays_chart(plays))


@bp.route("/collection/<int:album_id>/play", methods=["POST"])
@login_required
def play_album(album_id: int):
    """Record the whole record as played just now (tracks spaced by their durations)."""
    try:
        result = history_service.listen_to_album(current_config(), album_id, {})
    except AimeError as error:
        flash(error.detail, "error")
    else:
        skipped = f" ({result['duplicates']} already there)" if result["duplicates"] else ""
        flash(f"Recorded {result['created']} plays of this record{skipped}.", "ok")
    return redirect(url_for("web.album", album_id=album_id))


def album_form_data(form) -> dict:
    """Turn the HTML form into the API's album shape."""
    data = {key: form.get(key, "") for key in ("title", "year", "support", "genre", "catalog_number", "image_url",
                                               "spotify_url", "discogs_url", "apple_music_url", "ai_description")}
    data["artists"] = [name.strip() for name in form.get("artists", "").split(",") if name.strip()]
    data["labels"] = [name.strip() for name in form.get("labels", "").split(",") if name.strip()]
    data["tracks"] = [_track_line(line) for line in form.get("tracks", "").splitlines() if line.strip()]
    if not data["artists"]:
        data.pop("artists")  # let the schema say it is required
    return data


def _track_line(line: str) -> dict:
    title, _, length = line.partition("|")
    track: dict = {"title": title.strip()}
    minutes, sep, seconds = length.strip().partition(":")
    if sep and minutes.isdigit() and seconds.isdigit():
        track["duration_seconds"] = int(minutes) * 60 + int(seconds)
    return track


def _album_plays(detail: dict) -> list[dict]:
    # The journal filters by album title; keep only this album's rows (same title by others excluded).
    if not detail["play_count"]:
        return []
    page = history_service.journal(current_config(), page_size=1000, album=detail["title"], tz=viewer_tz().key)
    return [item for item in page.items if item["album_id"] == detail["id"]]


def _plays_chart(plays: list[dict]):
    zone = viewer_tz()
    months = Counter(datetime.fromtimestamp(p["played_at"], zone).strftime("%Y-%m") for p in plays)
    points = charts.continuous_months(months)
    return charts.bar_chart(points, label="Plays of this record by month", every=max(1, len(points) // 12))
