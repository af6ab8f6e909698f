"""HTTP API: one blueprint module per resource under /api/v1 (ListenBrainz compatibility under /1)."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from marshmallow import Schema, fields

from ..auth import protect_api
from ..config import config_of
from . import (ai, analytics, artists, audioscrobbler, collection, collections, enrichment, exports, history, imports,
               listenbrainz, magazines, playlists, scheduler, search, services)
from .openapi_security import TokenSecurityPlugin


class ProblemSchema(Schema):
    """An error as AIME serves it: application/problem+json (RFC 9457)."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "messages per field (422)"})
    request_id = fields.String()


class ProblemApi(Api):
    """flask-smorest's Api, documenting the errors that errors.py really serves (problem+json)."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        # flask-smorest documents its default error responses with the default content type; ours differ.
        self.DEFAULT_RESPONSE_CONTENT_TYPE = "application/problem+json"
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE  # back to the class default for every success response


def register_api(app: Flask) -> None:
    """Mount every API blueprint (body-size limits: aime.body_limits)."""
    # One Api per app: flask-smorest keeps the OpenAPI spec on the Api object.
    api = ProblemApi(app, spec_kwargs={
        "extra_plugins": [TokenSecurityPlugin(private=config_of(app).private)]})
    app.extensions["aime.api"] = api
    protect_api(app, "/api/v1")
    for module in (collection, artists, collections, history, exports, search, analytics, playlists, services,
                   enrichment, scheduler, ai, imports, magazines):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    listenbrainz.register(app)  # plain Flask blueprint: ListenBrainz' paths and error shape, not /api/v1
    audioscrobbler.register(app)  # Last.fm protocols (/2.0/, 1.2): Last.fm's answers and error codes

