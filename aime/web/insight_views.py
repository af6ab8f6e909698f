"""Statistics and playlists pages."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Response, flash, redirect, render_template, request, url_for
from marshmallow import Schema, fields, validate

from ..config import current_config
from ..errors import AimeError
from ..schemas.common import PeriodQuerySchema
from ..schemas.playlists import EXPORT_FORMATS, PlaylistGenerateSchema
from ..services import analytics, playlist_export, stats as stats_service
from ..services import playlists as playlist_service
from . import charts
from .blueprint import bp
from .helpers import parse, viewer_tz
from .security import login_required

PERIODS = {"7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30), "365d": ("Last 12 months", 365),
           "all": ("All time", None)}


class StatsPageQuerySchema(PeriodQuerySchema):
    """?period= (a preset) or start_date/end_date, and the ranking."""

    period = fields.String(load_default="30d", validate=validate.OneOf(tuple(PERIODS) + ("custom",)))
    by = fields.String(load_default="plays", validate=validate.OneOf(stats_service.ORDERINGS))


def _period_dates(query: dict, today: date) -> tuple[date | None, date | None]:
    if query.get("start_date") or query.get("end_date"):
        query["period"] = "custom"
        return query.get("start_date"), query.get("end_date")
    days = PERIODS[query["period"]][1] if query["period"] in PERIODS else 30
    return (today - timedelta(days=days - 1) if days else None), (today if days else None)


@bp.route("/stats")
def stats():
    """Top artists/albums/tracks of a period, plays by hour and weekday, streaks."""
    tz = viewer_tz()
    query = parse(StatsPageQuerySchema(), request.args)
    start, end = _period_dates(query, datetime.now(tz).date())
    tops = {kind: stats_service.top_list(current_config(), kind, start, end, tz.key, limit=10, by=query["by"])["items"]
            for kind in ("artists", "albums", "tracks")}
    summary = stats_service.history_stats(current_config(), start, end, tz.key, limit=1)
    shape = analytics.patterns(current_config(), start, end, tz.key, limit=5)
    runs = analytics.streaks(current_config(), start, end, tz.key)
    hours = charts.bar_chart([(f"{h['hour']:02d}", h["plays"]) for h in shape["by_hour"]],
                             label="Plays by hour of day", every=3)
    weekdays = charts.bar_chart([(d["weekday"][:3], d["plays"]) for d in shape["by_weekday"]],
                                label="Plays by weekday", height=160)
    return render_template("stats.html", query=query, periods=PERIODS, start=start, end=end, tops=tops,
                           summary=summary, shape=shape, streaks=runs, hours_chart=hours, weekday_chart=weekdays)


@bp.route("/playlists")
def playlists():
    """Every playlist, and a form to generate one with each algorithm."""
    listing = playlist_service.list_playlists()
    return render_template("playlists.html", playlists=listing["items"], labels=playlist_service.labels())


@bp.route("/playlists/generate", methods=["POST"])
@login_required
def generate_playlist():
    """Generate a playlist with the chosen algorithm, in the viewer's time zone."""
    try:
        data = parse(PlaylistGenerateSchema(), {**request.form.to_dict(), "tz": viewer_tz().key})
        playlist = playlist_service.generate_playlist(current_config(), data)
    except AimeError as error:
        flash(error.detail, "error")
        return redirect(url_for("web.playlists"))
    flash(f"Made “{playlist['name']}” with {playlist['track_count']} tracks.", "ok")
    return redirect(url_for("web.playlist", playlist_id=playlist["id"]))


@bp.route("/playlists/<int:playlist_id>")
def playlist(playlist_id: int):
    """One playlist's tracks and its export links."""
    return render_template("playlist.html", playlist=playlist_service.get_playlist(playlist_id),
                           formats=EXPORT_FORMATS)


@bp.route("/playlists/<int:playlist_id>/export.<fmt>")
def export_playlist(playlist_id: int, fmt: str):
    """Download the playlist as m3u, xspf, json, csv or txt."""
    parse(_ExportFormat(), {"format": fmt})
    body, mimetype, filename = playlist_export.export_playlist(current_config(), playlist_id, fmt)
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/playlists/<int:playlist_id>/delete", methods=["POST"])
@login_required
def delete_playlist(playlist_id: int):
    """Delete a playlist."""
    playlist_service.delete_playlist(playlist_id)
    flash("Playlist deleted.", "ok")
    return redirect(url_for("web.playlists"))


class _ExportFormat(Schema):
    format = fields.String(required=True, validate=validate.OneOf(EXPORT_FORMATS))
