"""Artist pages: one artist's records, plays and top tracks; a name resolves to its artist's page."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from ..errors import InvalidInput
from ..services import artists as artist_service
from .blueprint import bp


@bp.route("/artists/<int:artist_id>")
def artist(artist_id: int):
    """An artist: plays, first and last play, records owned and only heard, most played tracks."""
    return render_template("artist.html", artist=artist_service.artist_detail(artist_id))


@bp.route("/artists/named")
def artist_named():
    """Redirect ?name= to that artist's page (pages that only know the name link here)."""
    name = (request.args.get("name") or "").strip()
    if not name:
        raise InvalidInput("Give the artist's name as ?name=.")
    return redirect(url_for("web.artist", artist_id=artist_service.find_artist_id(name)))
