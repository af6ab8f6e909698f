"""Operations pages: imports, background services and the scheduler, health status."""
from __future__ import annotations

from flask import render_template

from . import bp


@bp.route("/imports")
def imports():
    """Upload a history file and follow its progress."""
    return render_template("pending.html", title="Imports")


@bp.route("/imports/<int:import_id>")
def import_detail(import_id: int):
    """One import job's progress and report."""
    return render_template("pending.html", title="Import")


@bp.route("/services")
def services():
    """Background services and the scheduler."""
    return render_template("pending.html", title="Services")


@bp.route("/status")
def status():
    """Every health check."""
    return render_template("pending.html", title="Status")
