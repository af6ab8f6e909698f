"""Shapes of listens, the journal, the timeline and listening statistics."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..timeutil import iso
from .common import Day, Instant, PeriodQuerySchema, PeriodResultSchema, TimeZoneField, WholeInteger, page_schema

_NAME = validate.Length(min=1, max=500)


class ListenSchema(Schema):
    """One play in the journal."""

    id = fields.Integer()
    played_at = Instant()
    artist = fields.String()
    title = fields.String()
    album = fields.String(allow_none=True)
    album_id = fields.Integer(allow_none=True)
    track_id = fields.Integer()
    year = fields.Integer(allow_none=True)
    loved = fields.Boolean()
    source = fields.String()
    album_image = fields.String(allow_none=True)


class JournalQuerySchema(PeriodQuerySchema):
    """Filters of the journal."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    source = fields.String(validate=validate.Length(min=1, max=50))
    loved = fields.Boolean()
    artist = fields.String(validate=_NAME)
    album = fields.String(validate=_NAME)


class HistoryExportQuerySchema(PeriodQuerySchema):
    """GET /history/export: the format and the period (local days, inclusive)."""

    format = fields.String(load_default="listenbrainz",
                           validate=validate.OneOf(["listenbrainz", "jsonl", "csv"]),
                           metadata={"description": "listenbrainz: ListenBrainz export zip (loves as feedback); "
                                                    "jsonl: ListenBrainz listens, one per line; csv: lastfm.ghan.nl"})


class ListenCreateSchema(Schema):
    """Body of POST /history/tracks: a manual, possibly back-dated play."""

    artist = fields.String(required=True, validate=_NAME)
    title = fields.String(required=True, validate=_NAME)
    album = fields.String(allow_none=True, validate=_NAME)
    played_at = Instant()
    duration_seconds = WholeInteger(allow_none=True, validate=validate.Range(min=0, max=86_400))


class AlbumListenSchema(Schema):
    """Body of POST /history/albums/<id>/listen: a record played from started_at."""

    started_at = Instant()
    track_numbers = fields.List(WholeInteger(validate=validate.Range(min=0)), validate=validate.Length(min=1))


class LoveSchema(Schema):
    """Body of POST /history/tracks/<id>/love; without `loved` it toggles."""

    loved = fields.Boolean()


class LoveResultSchema(Schema):
    """The track's love state after the change."""

    track_id = fields.Integer()
    loved = fields.Boolean()


class AlbumListenResultSchema(Schema):
    """What playing a record created."""

    album_id = fields.Integer()
    created = fields.Integer()
    duplicates = fields.Integer()
    listens = fields.List(fields.Nested(ListenSchema))


class TimelineQuerySchema(Schema):
    """GET /history/timeline parameters."""

    date = Day()
    tz = TimeZoneField()


class TimelineStatsSchema(Schema):
    """Totals of a timeline day."""

    total_tracks = fields.Integer()
    unique_artists = fields.Integer()
    unique_albums = fields.Integer()
    peak_hour = fields.Integer(allow_none=True)


class TimelineSchema(Schema):
    """A local day of plays, by hour."""

    date = fields.Date()
    tz = fields.String()
    hours = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(ListenSchema)))
    stats = fields.Nested(TimelineStatsSchema)


# The timeline's body built by hand: the busiest day has ~200 plays, and TimelineSchema().dump spent ~5 ms of
# CPU on their per-field marshmallow calls. Same fields, order and conversions as the schema (which still
# documents the route); tests/api/test_timeline_body.py compares the two.

def timeline_body(day: dict) -> dict:
    """TimelineSchema().dump(day), without marshmallow."""
    stats = day["stats"]
    return {"date": day["date"].isoformat(), "tz": _text(day["tz"]),
            "hours": {str(hour): [_listen(item) for item in items] for hour, items in day["hours"].items()},
            "stats": {"total_tracks": _number(stats["total_tracks"]),
                      "unique_artists": _number(stats["unique_artists"]),
                      "unique_albums": _number(stats["unique_albums"]), "peak_hour": _number(stats["peak_hour"])}}


def _listen(item: dict) -> dict:
    """ListenSchema().dump(item) of a journal item."""
    loved = item["loved"]
    return {"id": _number(item["id"]), "played_at": iso(item["played_at"]), "artist": _text(item["artist"]),
            "title": _text(item["title"]), "album": _text(item["album"]), "album_id": _number(item["album_id"]),
            "track_id": _number(item["track_id"]), "year": _number(item["year"]),
            "loved": None if loved is None else bool(loved), "source": _text(item["source"]),
            "album_image": _text(item["album_image"])}


def _number(value):
    return None if value is None else int(value)


def _text(value):
    return None if value is None else str(value)


class StatsQuerySchema(PeriodQuerySchema):
    """GET /history/stats parameters."""

    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class RankedSchema(Schema):
    """One entry of a top list."""

    id = fields.Integer(allow_none=True)
    name = fields.String()
    artist = fields.String(allow_none=True)
    plays = fields.Integer()
    duration_seconds = fields.Integer()
    # Top tracks only: a song counts across albums and is shown with its most played album.
    album = fields.String(allow_none=True)
    album_id = fields.Integer(allow_none=True)


class HistoryStatsSchema(PeriodResultSchema):
    """Listening totals and top lists of a period."""

    total_tracks = fields.Integer()
    unique_artists = fields.Integer()
    unique_albums = fields.Integer()
    unique_tracks = fields.Integer()
    peak_hour = fields.Integer(allow_none=True)
    total_duration_seconds = fields.Integer(metadata={"description": "each play's listened time when known, "
                                                              "else its track's length"})
    plays_without_duration = fields.Integer(metadata={"description": "plays with neither (counted as 0 s)"})
    top_artists = fields.List(fields.Nested(RankedSchema))
    top_albums = fields.List(fields.Nested(RankedSchema))
    top_tracks = fields.List(fields.Nested(RankedSchema))


JournalPageSchema = page_schema(ListenSchema, "JournalPage")
