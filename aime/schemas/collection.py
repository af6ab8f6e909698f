"""Shapes of albums, artists and tracks in and out of the API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import Instant, PageQuerySchema, WholeInteger, page_schema

_NAME = validate.Length(min=1, max=500)
_URL = fields.Url(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=1000))
SORTS = ("title", "-title", "year", "-year", "artist", "-artist", "created", "-created")


class ArtistSchema(Schema):
    """An artist."""

    id = fields.Integer()
    name = fields.String()


class ArtistWithCountSchema(ArtistSchema):
    """An artist with how many collection albums credit them."""

    album_count = fields.Integer()


class TrackSchema(Schema):
    """A track of an album."""

    id = fields.Integer()
    title = fields.String()
    track_number = fields.Integer(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)
    loved = fields.Boolean()


class AlbumSchema(Schema):
    """An album as the API returns it."""

    id = fields.Integer()
    title = fields.String()
    artists = fields.List(fields.Nested(ArtistSchema))
    year = fields.Integer(allow_none=True)
    support = fields.String(allow_none=True)
    genre = fields.String(allow_none=True)
    labels = fields.List(fields.String())
    catalog_number = fields.String(allow_none=True)
    discogs_id = fields.Integer(allow_none=True)
    spotify_url = fields.String(allow_none=True)
    discogs_url = fields.String(allow_none=True)
    apple_music_url = fields.String(allow_none=True)
    image_url = fields.String(allow_none=True)
    ai_description = fields.String(allow_none=True)
    source = fields.String()
    in_collection = fields.Boolean()
    created_at = Instant()
    updated_at = Instant()


class AlbumDetailSchema(AlbumSchema):
    """An album with its tracks and how often it was played."""

    tracks = fields.List(fields.Nested(TrackSchema))
    play_count = fields.Integer()
    last_played = Instant(allow_none=True)


class TrackInputSchema(Schema):
    """A track given when creating or replacing an album."""

    title = fields.String(required=True, validate=_NAME)
    track_number = WholeInteger(allow_none=True, validate=validate.Range(min=0, max=10_000))
    duration_seconds = WholeInteger(allow_none=True, validate=validate.Range(min=0, max=86_400))


class AlbumCreateSchema(Schema):
    """Body of POST/PUT /collection/albums."""

    title = fields.String(required=True, validate=_NAME)
    artists = fields.List(fields.String(validate=_NAME), required=True, validate=validate.Length(min=1, max=50))
    year = WholeInteger(allow_none=True, validate=validate.Range(min=1000, max=2200))
    support = fields.String(allow_none=True, validate=validate.Length(max=100))
    genre = fields.String(allow_none=True, validate=validate.Length(max=200))
    labels = fields.List(fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(max=50))
    catalog_number = fields.String(allow_none=True, validate=validate.Length(max=200))
    discogs_id = WholeInteger(allow_none=True, validate=validate.Range(min=1))
    spotify_url = _URL
    discogs_url = fields.Url(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=1000))
    apple_music_url = fields.Url(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=1000))
    image_url = fields.Url(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=1000))
    ai_description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    tracks = fields.List(fields.Nested(TrackInputSchema), validate=validate.Length(max=500))


class AlbumQuerySchema(PageQuerySchema):
    """Filters and sort of the album list."""

    search = fields.String(validate=validate.Length(min=1, max=200))
    support = fields.String(validate=validate.Length(min=1, max=100))
    year = fields.Integer(validate=validate.Range(min=0, max=2200))
    genre = fields.String(validate=validate.Length(min=1, max=200))
    artist = fields.String(validate=validate.Length(min=1, max=500))
    sort = fields.String(load_default="title", validate=validate.OneOf(SORTS))


class ArtistQuerySchema(PageQuerySchema):
    """Filters of the artist list."""

    search = fields.String(validate=validate.Length(min=1, max=200))


AlbumPageSchema = page_schema(AlbumSchema, "AlbumPage")
ArtistPageSchema = page_schema(ArtistWithCountSchema, "ArtistPage")


class CollectionStatsSchema(Schema):
    """Totals of the owned collection."""

    total_albums = fields.Integer()
    total_artists = fields.Integer()
    total_tracks = fields.Integer()
    by_support = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_year = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_decade = fields.Dict(keys=fields.String(), values=fields.Integer())


class SearchQuerySchema(Schema):
    """GET /search parameters."""

    q = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(validate=validate.OneOf(("album", "artist", "track")))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class SearchTrackSchema(Schema):
    """A track found by search."""

    id = fields.Integer()
    title = fields.String()
    artist = fields.String()
    album = fields.String(allow_none=True)
    album_id = fields.Integer(allow_none=True)


class SearchResultSchema(Schema):
    """Search results by kind."""

    query = fields.String()
    albums = fields.List(fields.Nested(AlbumSchema))
    artists = fields.List(fields.Nested(ArtistSchema))
    tracks = fields.List(fields.Nested(SearchTrackSchema))


class AlbumPatchSchema(AlbumCreateSchema):
    """Body of PATCH /collection/albums/<id>: any subset of the create fields (use with partial=True)."""
