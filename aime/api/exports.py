"""Collection exports as downloadable files."""
from __future__ import annotations

import time

from flask import Response, json
from flask_smorest import Blueprint

from ..services import exports

blp = Blueprint("exports", __name__, description="Collection exports (JSON and Markdown attachments)")


def _attachment(body: str, mimetype: str, name: str, ext: str) -> Response:
    filename = f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.{ext}"
    # mimetype= gets "; charset=utf-8" added by werkzeug for text/*: pass the bare type, never the charset too.
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _json(document: dict, name: str) -> Response:
    return _attachment(json.dumps(document, ensure_ascii=False, indent=2), "application/json", name, "json")


def _markdown(text: str, name: str) -> Response:
    return _attachment(text, "text/markdown", name, "md")


@blp.route("/collection/export/json")
@blp.response(200, content_type="application/json")
def export_json():
    """The whole collection as a JSON attachment."""
    return _json(exports.export_json(), "collection")


@blp.route("/collection/export/json/support/<string:support>")
@blp.response(200, content_type="application/json")
def export_json_support(support):
    """The collection of one support (Vinyle, CD, ...) as JSON."""
    return _json(exports.export_json(support=support), "collection-support")


@blp.route("/collection/export/markdown")
@blp.response(200, content_type="text/markdown")
def export_markdown():
    """The whole collection as a Markdown attachment."""
    return _markdown(exports.export_markdown(), "collection")


@blp.route("/collection/export/markdown/<int:artist_id>")
@blp.response(200, content_type="text/markdown")
def export_markdown_artist(artist_id):
    """One artist's albums as Markdown."""
    return _markdown(exports.export_markdown(artist_id=artist_id, title="Collection by artist"), "collection-artist")


@blp.route("/collection/export/markdown/support/<string:support>")
@blp.response(200, content_type="text/markdown")
def export_markdown_support(support):
    """The collection of one support as Markdown."""
    return _markdown(exports.export_markdown(support=support, title=f"Collection: {support}"), "collection-support")
