"""AI writing: album descriptions, batch enrichment, haikus."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import WholeInteger


class AlbumDescriptionSchema(Schema):
    """An album's new AI description."""

    album_id = fields.Integer()
    title = fields.String()
    ai_description = fields.String()


class EnrichAllSchema(Schema):
    """How many albums to describe in one call."""

    limit = WholeInteger(load_default=25, validate=validate.Range(min=1, max=200))


class EnrichErrorSchema(Schema):
    """An album the AI could not describe."""

    album_id = fields.Integer()
    error = fields.String()


class EnrichResultSchema(Schema):
    """What a batch enrichment did."""

    processed = fields.Integer()
    enriched = fields.Integer()
    failed = fields.Integer()
    remaining = fields.Integer()
    album_ids = fields.List(fields.Integer())
    errors = fields.List(fields.Nested(EnrichErrorSchema))


class HaikuQuerySchema(Schema):
    """The period a haiku is about."""

    days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=366))


class HaikuSchema(Schema):
    """A haiku about recent listening."""

    days = fields.Integer()
    start = fields.String()
    end = fields.String()
    listens = fields.Integer()
    top_artists = fields.List(fields.String())
    top_albums = fields.List(fields.String())
    haiku = fields.String()
    generated_at = fields.String()
