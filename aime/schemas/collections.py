"""Shapes of named album collections: their query, bodies in, collections and their albums out."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..services.collection_queries import FACTS
from .collection import ArtistSchema
from .common import Instant, WholeInteger

_NAME = validate.Length(min=1, max=200)
_TEXT = validate.Length(min=1, max=200)


class CollectionQuerySchema(Schema):
    """Which albums a query collection holds: every given criterion must match."""

    genre = fields.String(validate=_TEXT, metadata={"description": "text contained in the genre"})
    artist = fields.String(validate=_TEXT, metadata={"description": "text contained in a credited artist's name"})
    year_from = fields.Integer(allow_none=True, validate=validate.Range(min=1000, max=2200))
    year_to = fields.Integer(allow_none=True, validate=validate.Range(min=1000, max=2200))
    support = fields.String(validate=_TEXT, metadata={"description": "the support, exactly (any case)"})
    label = fields.String(validate=_TEXT, metadata={"description": "text contained in one of the labels"})
    fact = fields.String(validate=validate.OneOf(FACTS),
                         metadata={"description": "a listening fact (docs/library.md)"})
    days = fields.Integer(validate=validate.Range(min=1, max=36_500),
                          metadata={"description": "for not_played_for_days (default 730)"})
    owned = fields.Boolean(load_default=True, metadata={"description": "only albums in the collection (default)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class CollectionCreateSchema(Schema):
    """Body of POST /collections: by hand (album_ids), by query, or by a wish for the AI."""

    name = fields.String(required=True, validate=_NAME)
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    query = fields.Nested(CollectionQuerySchema, allow_none=True)
    wish = fields.String(validate=validate.Length(min=3, max=500),
                         metadata={"description": "free text the AI turns into a query (503 without AI)"})
    album_ids = fields.List(WholeInteger(validate=validate.Range(min=1)), validate=validate.Length(max=1000))
    reason = fields.String(allow_none=True, validate=validate.Length(max=500))


class CollectionPatchSchema(Schema):
    """Body of PATCH /collections/<id>."""

    name = fields.String(validate=_NAME)
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    query = fields.Nested(CollectionQuerySchema)


class CollectionAlbumsSchema(Schema):
    """Body of POST /collections/<id>/albums."""

    album_ids = fields.List(WholeInteger(validate=validate.Range(min=1)), required=True,
                            validate=validate.Length(min=1, max=1000))
    reason = fields.String(allow_none=True, validate=validate.Length(max=500))


class CollectionAlbumSchema(Schema):
    """An album of a collection and why it is in it."""

    id = fields.Integer()
    title = fields.String()
    artists = fields.List(fields.Nested(ArtistSchema))
    year = fields.Integer(allow_none=True)
    support = fields.String(allow_none=True)
    genre = fields.String(allow_none=True)
    image_url = fields.String(allow_none=True)
    in_collection = fields.Boolean()
    plays = fields.Integer()
    last_played = Instant(allow_none=True)
    reason = fields.String()


class CollectionSchema(Schema):
    """A collection (without its albums)."""

    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    kind = fields.String(metadata={"description": "manual or query"})
    query = fields.Dict(allow_none=True)
    wish = fields.String(allow_none=True)
    album_count = fields.Integer()
    created_at = Instant()
    updated_at = Instant()


class CollectionDetailSchema(CollectionSchema):
    """A collection with its albums."""

    albums = fields.List(fields.Nested(CollectionAlbumSchema))


class CollectionListSchema(Schema):
    """Every collection."""

    items = fields.List(fields.Nested(CollectionSchema))
