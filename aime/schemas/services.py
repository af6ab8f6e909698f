"""Background services: status, and the progress of syncs and imports."""
from __future__ import annotations

from marshmallow import Schema, fields


class ServiceStatusSchema(Schema):
    """Whether a service should run (active), runs now (running, holder) and its persisted state."""

    name = fields.String()
    active = fields.Boolean()
    running = fields.Boolean()
    configured = fields.Boolean()
    holder = fields.String(allow_none=True)
    lease_expires_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)
    state = fields.Dict()


class ServiceStatusListSchema(Schema):
    """Every registered service."""

    services = fields.List(fields.Nested(ServiceStatusSchema))


class JobProgressSchema(Schema):
    """Progress of a Discogs sync or a Last.fm history import (counts so far, page of pages)."""

    class Meta:
        unknown = "include"

    status = fields.String(allow_none=True)
    page = fields.Integer(allow_none=True)
    pages = fields.Integer(allow_none=True)
    total = fields.Integer(allow_none=True)
    processed = fields.Integer(allow_none=True)
    imported = fields.Integer(allow_none=True)
    duplicates = fields.Integer(allow_none=True)
    added = fields.Integer(allow_none=True)
    updated = fields.Integer(allow_none=True)
    unchanged = fields.Integer(allow_none=True)
    removed_count = fields.Integer(allow_none=True)
    removed = fields.List(fields.Dict(), allow_none=True)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
