"""Server-rendered pages (Jinja2, a little JavaScript, server-drawn SVG charts) on the same services as the API."""
from __future__ import annotations

from flask import Flask

from . import (account, collection_views, collections_views, cover_views, history_views,  # noqa: F401  (routes)
               insight_views, library_views, magazine_views, ops_views, security)
from .blueprint import bp
from .helpers import register_template_helpers


def init_web(app: Flask) -> None:
    """Register the pages, the session (secret derived lazily from the API token) and template helpers."""
    security.init_security(app)
    register_template_helpers(app)
    app.register_blueprint(bp)
