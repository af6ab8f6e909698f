"""Shape of one artist's page in the API."""
from __future__ import annotations

from marshmallow import Schema, fields

from .collection import ArtistSchema
from .common import Instant


class ArtistAlbumSchema(Schema):
    """An album of the artist, with its plays."""

    id = fields.Integer()
    title = fields.String()
    artists = fields.List(fields.Nested(ArtistSchema))
    year = fields.Integer(allow_none=True)
    support = fields.String(allow_none=True)
    in_collection = fields.Boolean()
    image_url = fields.String(allow_none=True)
    plays = fields.Integer(metadata={"description": "plays of the record's tracks"})
    first_played = Instant(allow_none=True)
    last_played = Instant(allow_none=True)


class ArtistTrackSchema(Schema):
    """One of the artist's most played tracks."""

    id = fields.Integer()
    title = fields.String()
    album_id = fields.Integer(allow_none=True)
    album = fields.String(allow_none=True)
    plays = fields.Integer()
    last_played = Instant(allow_none=True)


class ArtistDetailSchema(Schema):
    """An artist: plays of their tracks, first and last play, albums owned and only heard, top tracks."""

    id = fields.Integer()
    name = fields.String()
    play_count = fields.Integer()
    first_played = Instant(allow_none=True)
    last_played = Instant(allow_none=True)
    albums_owned = fields.List(fields.Nested(ArtistAlbumSchema))
    albums_heard = fields.List(fields.Nested(ArtistAlbumSchema), metadata={
        "description": "albums not in the collection with plays"})
    top_tracks = fields.List(fields.Nested(ArtistTrackSchema))
    image_url = fields.String(allow_none=True, metadata={
        "description": "the cover of their most played record that has one (AIME stores no artist photos)"})
