"""Collection pages: named collections (by hand, by query, or a wish for the AI) with covers and reasons."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ..config import current_config
from ..errors import AimeError, InvalidInput
from ..integrations import ai
from ..schemas.collections import CollectionCreateSchema
from ..services import collection as collection_service
from ..services import collections as service
from .blueprint import bp
from .helpers import parse
from .security import login_required

FACT_LABELS = {"not_played_for_days": "owned, not played for N days (default two years)",
               "never_played": "never played", "most_played": "most played",
               "winter_evenings": "played most on winter evenings"}
QUERY_FIELDS = ("genre", "artist", "year_from", "year_to", "support", "label", "fact", "days")


@bp.route("/collections")
def collections():
    """Every collection, and the form to make one."""
    return render_template("collections.html", items=service.list_collections(current_config()), facts=FACT_LABELS,
                           ai_enabled=ai.is_configured(current_config()), form={})


@bp.route("/collections", methods=["POST"])
@login_required
def collections_create():
    """Make a collection from the form: a query when any criterion (or a wish) is given, else by hand."""
    form = request.form
    try:
        made = service.create_collection(current_config(), parse(CollectionCreateSchema(), _create_body(form)))
    except AimeError as error:
        flash(error.detail, "error")
        return render_template("collections.html", items=service.list_collections(current_config()), facts=FACT_LABELS,
                               ai_enabled=ai.is_configured(current_config()), form=form), error.status
    flash(f"Made the collection “{made['name']}” ({made['album_count']} albums).", "ok")
    return redirect(url_for("web.collections_item", collection_id=made["id"]))


@bp.route("/collections/<int:collection_id>")
def collections_item(collection_id: int):
    """One collection: covers, and why each record is in it."""
    return render_template("collection_set.html", item=service.get_collection(current_config(), collection_id),
                           facts=FACT_LABELS)


@bp.route("/collections/<int:collection_id>/albums", methods=["POST"])
@login_required
def collections_add(collection_id: int):
    """Add the one owned album whose title or artist matches the search text."""
    try:
        album_id = _one_album(request.form.get("search", ""))
        service.add_albums(current_config(), collection_id, [album_id], request.form.get("reason") or None)
    except AimeError as error:
        flash(error.detail, "error")
    else:
        flash("Added.", "ok")
    return redirect(url_for("web.collections_item", collection_id=collection_id))


@bp.route("/collections/<int:collection_id>/albums/<int:album_id>/remove", methods=["POST"])
@login_required
def collections_remove(collection_id: int, album_id: int):
    """Take an album out of a collection made by hand."""
    service.remove_album(current_config(), collection_id, album_id)
    flash("Removed.", "ok")
    return redirect(url_for("web.collections_item", collection_id=collection_id))


@bp.route("/collections/<int:collection_id>/delete", methods=["POST"])
@login_required
def collections_delete(collection_id: int):
    """Delete a collection (its albums stay)."""
    service.delete_collection(collection_id)
    flash("Collection deleted.", "ok")
    return redirect(url_for("web.collections"))


def _create_body(form) -> dict:
    body: dict = {key: form.get(key, "") for key in ("name", "description", "wish")}
    query = {key: form.get(key, "") for key in QUERY_FIELDS if form.get(key, "").strip()}
    if query:
        body["query"] = query
    return body


def _one_album(search: str) -> int:
    if not search.strip():
        raise InvalidInput("Type part of the album's title or artist.")
    page = collection_service.list_albums(page_size=2, search=search.strip())
    if page.total != 1:
        raise InvalidInput(f"{page.total} albums match “{search.strip()}”: type more of the title.")
    return page.items[0]["id"]

