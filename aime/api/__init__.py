"""HTTP API: one blueprint module per resource under /api/v1 (ListenBrainz compatibility under /1)."""
from __future__ import annotations

import threading

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
    """flask-smorest's Api, documenting the errors that errors.py really serves (problem+json), and writing the
    blueprints' part of the OpenAPI document when the document is first read rather than in create_app."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app=None, **kwargs):
        # Documenting the views (apispec resolving every schema, deep copies of every view's doc) was half of
        # create_app's CPU, paid by every gunicorn worker and every test app although few ever serve the document.
        self._undocumented: list = []  # (blueprint, name, parameters), in registration order
        self._documenting = threading.RLock()  # gthread: two first readers at once must not see half a document
        super().__init__(app, **kwargs)

    @property
    def spec(self):
        """The OpenAPI document (an apispec.APISpec), completed with the blueprints not yet documented."""
        with self._documenting:
            # Taken out first: flask-smorest's doc callbacks read api.spec again while a blueprint is documented.
            pending, self._undocumented = self._undocumented, []
            for blueprint, name, parameters in pending:
                blueprint.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
                self._spec.tag({"name": name, "description": blueprint.description})
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        self._spec = value

    def register_blueprint(self, blp, *, parameters=None, **options):
        """Register blp's routes now, as flask-smorest does; its views are documented when the spec is read."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

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

