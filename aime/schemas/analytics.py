"""Shapes of the listening statistics: top lists, sessions, patterns, heatmap, streaks, discovery, comparison."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import Day, Instant, PeriodQuerySchema, PeriodResultSchema, TimeZoneField
from .history import RankedSchema

_GAP = validate.Range(min=60, max=86_400)


class TopQuerySchema(PeriodQuerySchema):
    """GET /history/top/<kind> parameters."""

    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))
    by = fields.String(load_default="plays", validate=validate.OneOf(("plays", "duration")))


class TopListSchema(Schema):
    """A ranked list of artists, albums or tracks."""

    kind = fields.String()
    by = fields.String()
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    tz = fields.String()
    items = fields.List(fields.Nested(RankedSchema))


class SessionQuerySchema(PeriodQuerySchema):
    """GET /history/sessions parameters."""

    min_gap = fields.Integer(load_default=1800, validate=_GAP)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class SessionSchema(Schema):
    """One listening session."""

    start = Instant()
    end = Instant()
    start_local = fields.String()
    end_local = fields.String()
    tracks = fields.Integer()
    artists = fields.Integer()
    duration_seconds = fields.Integer()


class SessionPageSchema(PeriodResultSchema):
    """Sessions of a period, newest first."""

    min_gap = fields.Integer()
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    pages = fields.Integer()
    average_duration_seconds = fields.Integer()
    longest_duration_seconds = fields.Integer()
    items = fields.List(fields.Nested(SessionSchema))


class PatternQuerySchema(PeriodQuerySchema):
    """GET /history/patterns parameters."""

    min_gap = fields.Integer(load_default=1800, validate=_GAP)
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class ArtistPairSchema(Schema):
    """Two artists and the number of sessions they shared."""

    artists = fields.List(fields.String())
    sessions = fields.Integer()


class PatternsSchema(PeriodResultSchema):
    """When the plays happen, and who is played together."""

    total_plays = fields.Integer()
    days = fields.Integer()
    active_days = fields.Integer()
    daily_average = fields.Float()
    peak_hour = fields.Integer(allow_none=True)
    peak_weekday = fields.String(allow_none=True)
    by_hour = fields.List(fields.Dict(keys=fields.String(), values=fields.Integer()))
    by_weekday = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw()))
    min_gap = fields.Integer()
    artist_pairs = fields.List(fields.Nested(ArtistPairSchema))


class HeatmapSchema(PeriodResultSchema):
    """Plays by weekday (rows) and local hour (columns)."""

    weekdays = fields.List(fields.String())
    hours = fields.List(fields.Integer())
    matrix = fields.List(fields.List(fields.Integer()))
    max = fields.Integer()
    total = fields.Integer()


class RunSchema(Schema):
    """A run of consecutive days with plays."""

    days = fields.Integer()
    start = fields.Date(allow_none=True)
    end = fields.Date(allow_none=True)


class StreaksSchema(PeriodResultSchema):
    """Longest and current runs of local days with plays."""

    active_days = fields.Integer()
    longest = fields.Nested(RunSchema)
    current = fields.Nested(RunSchema)


class DiscoveredAlbumSchema(Schema):
    """An album first played that month."""

    id = fields.Integer()
    title = fields.String()
    artist = fields.String(allow_none=True)


class DiscoveryMonthSchema(Schema):
    """First plays of artists and albums in one local month."""

    month = fields.String()
    new_artists = fields.Integer()
    new_albums = fields.Integer()
    artists = fields.List(fields.String())
    albums = fields.List(fields.Nested(DiscoveredAlbumSchema))


class DiscoverySchema(PeriodResultSchema):
    """Artists and albums discovered per month."""

    total_new_artists = fields.Integer()
    total_new_albums = fields.Integer()
    months = fields.List(fields.Nested(DiscoveryMonthSchema))


class CompareQuerySchema(Schema):
    """GET /analytics/compare parameters: the period and the baseline it is compared with."""

    start_date = Day(required=True)
    end_date = Day(required=True)
    compare_start_date = Day(required=True)
    compare_end_date = Day(required=True)
    tz = TimeZoneField()
    limit = fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))


class PeriodSummarySchema(Schema):
    """Totals of one side of a comparison."""

    start_date = fields.Date()
    end_date = fields.Date()
    total_tracks = fields.Integer()
    unique_artists = fields.Integer()
    unique_albums = fields.Integer()
    unique_tracks = fields.Integer()
    total_duration_seconds = fields.Integer()
    plays_without_duration = fields.Integer()
    active_days = fields.Integer()
    top_artists = fields.List(fields.Nested(RankedSchema))


class ChangesSchema(Schema):
    """Period minus baseline."""

    plays = fields.Integer()
    plays_percent = fields.Float(allow_none=True)
    duration_seconds = fields.Integer()
    duration_percent = fields.Float(allow_none=True)
    unique_artists = fields.Integer()
    artists_in_common = fields.Integer()
    new_artists = fields.Integer()
    dropped_artists = fields.Integer()


class ComparisonSchema(Schema):
    """Two periods side by side."""

    tz = fields.String()
    period = fields.Nested(PeriodSummarySchema)
    baseline = fields.Nested(PeriodSummarySchema)
    changes = fields.Nested(ChangesSchema)
