"""Signing in with the API token, and out."""
from __future__ import annotations

import logging

from flask import flash, redirect, render_template, request, url_for

from . import security
from .blueprint import bp

log = logging.getLogger(__name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Ask for the API token once; keep the proof in the HttpOnly session cookie."""
    next_url = security.safe_next(request.values.get("next"))
    if request.method == "POST":
        if security.sign_in(request.form.get("token", "").strip()):
            log.info("audit: web sign-in", extra={"audit": True, "outcome": "allowed"})
            flash("Signed in.", "ok")
            return redirect(next_url)
        # The failure is already counted and audited with the client address (auth.record_failure).
        flash("That is not the API token.", "error")
        return render_template("login.html", next=next_url), 401
    return render_template("login.html", next=next_url)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST, with CSRF, so a link elsewhere cannot sign you out)."""
    security.sign_out()
    log.info("audit: web sign-out", extra={"audit": True, "outcome": "allowed"})
    flash("Signed out.", "ok")
    return redirect(url_for("web.dashboard"))
