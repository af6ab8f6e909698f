"""The magazine's pages: the editions, one edition to read (phone first), and "write a new edition"."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from ..errors import AimeError
from ..schemas.common import PageQuerySchema
from ..services import magazine as magazine_service
from ..jobs import scheduler
from .blueprint import bp
from .helpers import parse
from .security import login_required


@bp.route("/magazine")
def magazine():
    """Every edition, newest first, and the button that writes a new one."""
    query = parse(PageQuerySchema(), request.args)
    return render_template("magazine_list.html", page=magazine_service.list_editions(page=query["page"], page_size=20))


@bp.route("/magazine", methods=["POST"])
@login_required
def magazine_create():
    """Start writing a new edition (in the background, as the `magazine` task)."""
    try:
        run = scheduler.trigger(current_app._get_current_object(), "magazine")
    except AimeError as error:
        flash(error.detail, "error")
    else:
        flash(f"A new edition is being written (run {run['run_id']}); it appears here when done.", "ok")
    return redirect(url_for("web.magazine"))


@bp.route("/magazine/<int:edition_id>")
def magazine_edition(edition_id: int):
    """One edition to read."""
    return render_template("magazine.html", edition=magazine_service.get_edition(edition_id))
