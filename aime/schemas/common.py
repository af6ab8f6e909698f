"""Fields and schemas shared by resources: instants, pages, time zones."""
from __future__ import annotations

from datetime import date, datetime, UTC

from marshmallow import Schema, ValidationError, fields, validate

from ..timeutil import iso, to_epoch


class Instant(fields.Field):
    """An instant stored as UTC epoch seconds, exchanged as ISO 8601 (naive input is taken as UTC)."""

    default_error_messages = {"invalid": "Not a valid ISO 8601 date-time (e.g. 2024-05-01T21:30:00Z)."}

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise self.make_error("invalid") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if not 1900 <= moment.year <= 2200:
            raise ValidationError("Year must be between 1900 and 2200.")
        return to_epoch(moment)


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2200, 12, 31)  # the years an Instant accepts


class WholeInteger(fields.Integer):
    """An integer field that refuses a fractional number: 0.3 is a 422, not silently loaded as 0.

    Not `strict=True`, which would also refuse the numeric strings the pages' forms send to the same schemas."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Day(fields.Date):
    """A calendar day asked for by a client, within the years plays can have (so that the day before and
    after, in any zone, are real dates: 0001-01-01 and 9999-12-31 are refused with 422, not a 500)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Range(
            min=FIRST_DAY, max=LAST_DAY, error=f"Must be between {FIRST_DAY} and {LAST_DAY}."), **kwargs)


class TimeZoneField(fields.String):
    """An IANA zone name; checked by the service so the error names the value."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(min=1, max=64), **kwargs)


class PageQuerySchema(Schema):
    """page/page_size query parameters."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=30, validate=validate.Range(min=1, max=100))


class PeriodQuerySchema(Schema):
    """start_date/end_date (inclusive local days) and tz."""

    start_date = Day()
    end_date = Day()
    tz = TimeZoneField()


class PeriodResultSchema(Schema):
    """The period a result covers, echoed back: local days and the zone they are in."""

    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    tz = fields.String()


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """A `{items, total, page, page_size, pages}` schema around item_schema."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "page_size": fields.Integer(),
        "pages": fields.Integer(),
    }, name=name)
