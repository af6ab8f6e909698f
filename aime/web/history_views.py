"""Listening pages: the dashboard, the journal with its love toggle, and the day timeline."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for

from ..config import current_config
from ..errors import AimeError
from ..schemas.history import JournalQuerySchema, TimelineQuerySchema
from ..services import history as history_service
from ..services import stats as stats_service
from . import charts, panels, security
from .blueprint import bp
from .helpers import parse, viewer_tz
from .security import login_required

JOURNAL_PAGE_SIZE = 50


@bp.route("/")
def dashboard():
    """Today and this week in plays, the last plays, the month's top artists, services and health."""
    tz = viewer_tz()
    today = datetime.now(tz).date()
    week = stats_service.history_stats(current_config(), today - timedelta(days=today.weekday()), today, tz.key,
                                       limit=5)
    month = stats_service.history_stats(current_config(), today.replace(day=1), today, tz.key, limit=5)
    day = stats_service.history_stats(current_config(), today, today, tz.key, limit=1)
    last = history_service.journal(current_config(), page_size=8, tz=tz.key)
    return render_template("dashboard.html", today=day, week=week, month=month, last=last.items,
                           services=panels.service_summaries(),
                           last_import=panels.last_import(current_app._get_current_object()),
                           health=panels.health_summary(current_app._get_current_object()))


@bp.route("/journal")
def journal():
    """Plays newest first with filters (artist, album, source, loved, dates) and pages."""
    query = parse(JournalQuerySchema(), request.args)
    query["page_size"] = JOURNAL_PAGE_SIZE
    query.setdefault("tz", viewer_tz().key)
    page = history_service.journal(current_config(), **query)
    return render_template("journal.html", page=page, query=query)


@bp.route("/tracks/<int:track_id>/love", methods=["POST"])
@login_required
def love(track_id: int):
    """Toggle a track's love (JSON for the page script, a redirect back for plain forms)."""
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        result = history_service.set_loved(track_id, None)
    except AimeError as error:
        if wants_json:
            return jsonify(error=error.detail), error.status
        flash(error.detail, "error")
        return redirect(_back())
    if wants_json:
        return jsonify(result)
    flash("Loved." if result["loved"] else "No longer loved.", "ok")
    return redirect(_back())


@bp.route("/timeline")
def timeline():
    """One local day by hour, previous/next day, and the year of days as a heatmap."""
    tz = viewer_tz()
    query = parse(TimelineQuerySchema(), request.args)
    day: date = query.get("date") or datetime.now(tz).date()
    data = history_service.timeline(current_config(), day, tz.key)
    hours = [(f"{int(h):02d}", len(items)) for h, items in sorted(data["hours"].items(), key=lambda kv: int(kv[0]))]
    chart = charts.bar_chart(hours, label=f"Plays by hour on {day.isoformat()}", every=3)
    year = panels.year_heatmap(day, tz.key)
    return render_template("timeline.html", data=data, day=day, chart=chart, heatmap=year,
                           prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
                           is_today=day >= datetime.now(tz).date())


def _back() -> str:
    # Only follow a same-site referrer, and never to another host.
    referrer = request.referrer or ""
    host = request.host_url
    if referrer.startswith(host):
        return security.local_path("/" + referrer[len(host):]) or url_for("web.journal")
    return url_for("web.journal")
