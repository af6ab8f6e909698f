"""GET /covers/albums/<id>: an album's stored cover (thumb or full) or its lettered placeholder, with ETags."""
from __future__ import annotations

from flask import Response, request, send_file

from ..config import current_config
from ..services import covers
from .blueprint import bp

# A stored cover changes only when enrichment replaces it (its ETag then changes); a day of freshness then a
# cheap revalidation. Placeholders are revalidated every time so a cover found later shows at once.
STORED_MAX_AGE = 86400


@bp.route("/covers/albums/<int:album_id>")
def album_cover(album_id: int):
    """The album's cover: ?size=thumb (default) or ?size=full; 404 only when the album does not exist."""
    body = covers.cover_body(current_config(), album_id, request.args.get("size", "thumb"))
    scope = "private" if current_config().private else "public"
    if body.placeholder:
        response = Response(body.data, mimetype=body.mime)
        response.set_etag(body.etag)
        response.make_conditional(request)
        response.headers["Cache-Control"] = f"{scope}, no-cache"
    else:  # send_file answers If-None-Match with 304 (and Range requests) itself
        response = send_file(body.path, mimetype=body.mime, etag=body.etag, conditional=True)
        response.headers["Cache-Control"] = f"{scope}, max-age={STORED_MAX_AGE}"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
