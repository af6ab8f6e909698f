"""Import jobs: the upload form and the job report."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from .common import Instant, PageQuerySchema, page_schema


class ImportUploadSchema(Schema):
    """multipart/form-data with the export file in `file`."""

    file = Upload(required=True)


class SkippedRowSchema(Schema):
    """A row deliberately not imported, and why."""

    line = fields.Integer(allow_none=True)
    reason = fields.String()


class ErrorRowSchema(Schema):
    """A row that could not be read, and what was wrong."""

    line = fields.Integer(allow_none=True)
    error = fields.String()


class ConflictSchema(Schema):
    """A value of the file that disagrees with what was stored (the stored one is kept)."""

    line = fields.Integer(allow_none=True)
    track = fields.String(metadata={"description": "artist – title (or the album, for a collection)"})
    field = fields.String()
    stored = fields.Raw(allow_none=True)
    file = fields.Raw(allow_none=True)


class ImportJobSchema(Schema):
    """An import job's progress and report."""

    id = fields.Integer()
    format = fields.String(allow_none=True)
    filename = fields.String()
    status = fields.String(metadata={"enum": ["queued", "running", "done", "failed"]})
    processed = fields.Integer()
    imported = fields.Integer()
    duplicates = fields.Integer()
    enriched = fields.Integer(metadata={"description": "duplicates that completed a stored play (album, ids, ...)"})
    conflicts = fields.List(fields.Nested(ConflictSchema))
    skipped = fields.List(fields.Nested(SkippedRowSchema))
    errors = fields.List(fields.Nested(ErrorRowSchema))
    skipped_count = fields.Integer()
    error_count = fields.Integer()
    message = fields.String(allow_none=True)
    created_at = Instant()
    started_at = Instant(allow_none=True)
    finished_at = Instant(allow_none=True)


class ImportQuerySchema(PageQuerySchema):
    """page/page_size of the job list."""


ImportPageSchema = page_schema(ImportJobSchema, "ImportPage")
