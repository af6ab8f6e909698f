"""Shapes of playlists: manual creation, generation, listing, export."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..services.playlist_algorithms import algorithms
from .common import Instant, TimeZoneField, WholeInteger

EXPORT_FORMATS = ("m3u", "xspf", "json", "csv", "txt")
_NAME = validate.Length(min=1, max=300)


class RegisteredAlgorithm(validate.OneOf):
    """OneOf the app's playlist algorithms, read when validating (and when the OpenAPI enum is built)."""

    def __init__(self):
        self.labels, self.labels_text = [], ""
        self.error = self.default_message

    @property
    def choices(self) -> tuple[str, ...]:
        """The names of the registered algorithms."""
        return tuple(algorithms())

    @property
    def choices_text(self) -> str:
        """The names as the error message lists them."""
        return ", ".join(self.choices)


class PlaylistCreateSchema(Schema):
    """Body of POST /playlists: a manual playlist from track ids (order kept, repeats allowed)."""

    name = fields.String(required=True, validate=_NAME)
    track_ids = fields.List(WholeInteger(validate=validate.Range(min=1)), required=True,
                            validate=validate.Length(min=1, max=1000))


class PlaylistGenerateSchema(Schema):
    """Body of POST /playlists/generate."""

    algorithm = fields.String(required=True, validate=RegisteredAlgorithm())
    max_tracks = WholeInteger(load_default=25, validate=validate.Range(min=5, max=100))
    name = fields.String(validate=_NAME)
    ai_prompt = fields.String(allow_none=True, validate=validate.Length(max=2000))
    seed = WholeInteger(allow_none=True, validate=validate.Range(min=0, max=2**31 - 1))
    tz = TimeZoneField()
    days = WholeInteger(load_default=30, validate=validate.Range(min=1, max=36_500))
    window_days = WholeInteger(load_default=365, validate=validate.Range(min=1, max=36_500))


class PlaylistEntrySchema(Schema):
    """A track at a position."""

    position = fields.Integer()
    track_id = fields.Integer()
    title = fields.String()
    artist = fields.String()
    album = fields.String(allow_none=True)
    track_number = fields.Integer(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)


class PlaylistSummarySchema(Schema):
    """A playlist in the list."""

    id = fields.Integer()
    name = fields.String()
    algorithm = fields.String()
    parameters = fields.Dict()
    track_count = fields.Integer()
    duration_seconds = fields.Integer()
    created_at = Instant()


class PlaylistSchema(PlaylistSummarySchema):
    """A playlist with its tracks."""

    tracks = fields.List(fields.Nested(PlaylistEntrySchema))


class PlaylistListSchema(Schema):
    """Every playlist, newest first."""

    items = fields.List(fields.Nested(PlaylistSummarySchema))
    total = fields.Integer()


class ExportQuerySchema(Schema):
    """GET /playlists/<id>/export parameters."""

    format = fields.String(load_default="m3u", validate=validate.OneOf(EXPORT_FORMATS))
