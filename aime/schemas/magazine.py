"""Shapes of the magazine's editions."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import Instant, PageQuerySchema, page_schema


class EditionQuerySchema(PageQuerySchema):
    """Pages of editions; task_run_id finds the edition a run wrote."""

    task_run_id = fields.Integer(validate=validate.Range(min=1))


class EditionSummarySchema(Schema):
    """An edition without its content."""

    id = fields.Integer()
    number = fields.Integer()
    title = fields.String()
    writer = fields.String(metadata={"description": "data, ai, or mixed (AI prose that failed its checks)"})
    created_at = Instant()
    task_run_id = fields.Integer(allow_none=True)


class _Track(Schema):
    title = fields.String()
    plays = fields.Integer()


class _Record(Schema):
    album_id = fields.Integer()
    title = fields.String()
    year = fields.Integer(allow_none=True)
    plays = fields.Integer()
    owned = fields.Boolean()


class FeaturedArtistSchema(Schema):
    """The edition's artist and their most played records."""

    artist_id = fields.Integer()
    name = fields.String()
    plays = fields.Integer()
    first_played = Instant(allow_none=True)
    last_played = Instant(allow_none=True)
    records = fields.List(fields.Nested(_Record))
    top_tracks = fields.List(fields.Nested(_Track))
    text = fields.String()


class AlbumInDepthSchema(Schema):
    """One album and its listening statistics."""

    album_id = fields.Integer()
    title = fields.String()
    artists = fields.List(fields.String())
    artist_id = fields.Integer()
    year = fields.Integer(allow_none=True)
    genre = fields.String(allow_none=True)
    owned = fields.Boolean()
    plays = fields.Integer()
    first_played = Instant(allow_none=True)
    last_played = Instant(allow_none=True)
    listening_seconds = fields.Integer()
    tracks = fields.Integer()
    tracks_heard = fields.Integer()
    top_tracks = fields.List(fields.Nested(_Track))
    text = fields.String()


class HaikuItemSchema(Schema):
    """A haiku for an album."""

    album_id = fields.Integer()
    title = fields.String()
    artists = fields.List(fields.String())
    year = fields.Integer(allow_none=True)
    plays = fields.Integer()
    haiku = fields.String()


class _ShelfItem(Schema):
    album_id = fields.Integer()
    title = fields.String()
    artists = fields.List(fields.String())
    plays = fields.Integer()
    reason = fields.String()


class ShelfSchema(Schema):
    """A collection of records, each with the reason it is in."""

    name = fields.String()
    query = fields.Dict()
    intro = fields.String()
    items = fields.List(fields.Nested(_ShelfItem))


class EditionSchema(EditionSummarySchema):
    """A whole edition (sections are null when the library has nothing for them)."""

    featured_artist = fields.Nested(FeaturedArtistSchema, allow_none=True)
    album = fields.Nested(AlbumInDepthSchema, allow_none=True)
    haikus = fields.List(fields.Nested(HaikuItemSchema))
    collection = fields.Nested(ShelfSchema, allow_none=True)


EditionPageSchema = page_schema(EditionSummarySchema, "EditionPage")
