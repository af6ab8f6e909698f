"""Statistics and playlists pages."""
from __future__ import annotations

from flask import render_template

from . import bp


@bp.route("/stats")
def stats():
    """Top lists, plays by hour and weekday, streaks."""
    return render_template("pending.html", title="Statistics")


@bp.route("/playlists")
def playlists():
    """Generate, view and export playlists."""
    return render_template("pending.html", title="Playlists")
