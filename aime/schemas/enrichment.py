"""Enrichment: one album's report and the whole-collection run's progress."""
from __future__ import annotations

from marshmallow import Schema, fields


class EnrichmentReportSchema(Schema):
    """What enrichment did to one album: changes (field -> from/to/source), matches, ambiguities, errors."""

    album_id = fields.Integer()
    status = fields.String(allow_none=True, metadata={"description": "matched, ambiguous, not_found or failed"})
    enriched_at = fields.Integer(allow_none=True)
    changes = fields.Dict(keys=fields.String(), values=fields.Dict())
    matches = fields.Dict(keys=fields.String(), values=fields.String())
    ambiguous = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()))
    errors = fields.Dict(keys=fields.String(), values=fields.String())
    conflicts = fields.Dict(keys=fields.String(), values=fields.Dict(),
                            metadata={"description": "field -> known, found, source: a different id, not written"})
    user_fields = fields.List(fields.String())
    cover = fields.Dict(allow_none=True)
    release_mbid = fields.String(allow_none=True, metadata={"description": "the album's MusicBrainz release id"})
    musicbrainz_release_group_id = fields.String(allow_none=True)


class EnrichmentProgressSchema(Schema):
    """The running or last whole-collection run (counts so far; resumed: it continued an interrupted run)."""

    status = fields.String(allow_none=True)
    resumed = fields.Boolean(allow_none=True)
    sources = fields.List(fields.String(), allow_none=True)
    total = fields.Integer(allow_none=True)
    processed = fields.Integer(allow_none=True)
    changed = fields.Integer(allow_none=True)
    covers = fields.Integer(allow_none=True)
    matched = fields.Integer(allow_none=True)
    ambiguous = fields.Integer(allow_none=True)
    not_found = fields.Integer(allow_none=True)
    failed = fields.Integer(allow_none=True)
    last_album_id = fields.Integer(allow_none=True)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
