"""Scheduler configuration and task runs."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..jobs.tasks import TASKS
from .common import Instant, PageQuerySchema, WholeInteger, page_schema


class TaskName(validate.OneOf):
    """OneOf the task registry as it is when a value is checked or the spec is drawn (not frozen at import)."""

    def __init__(self):
        super().__init__((), error="Unknown task; one of: {choices}.")

    choices = property(lambda self: list(TASKS), lambda self, _value: None)
    choices_text = property(lambda self: ", ".join(TASKS), lambda self, _value: None)


TASK_NAMES = TaskName()
RUN_STATUSES = ("running", "success", "failed", "skipped")


class ScheduledTaskSchema(Schema):
    """A task's schedule: a 5-field cron expression read in an IANA zone."""

    name = fields.String(required=True, validate=TASK_NAMES)
    cron = fields.String(validate=validate.Length(min=1, max=100),
                         metadata={"description": "minute hour day month weekday, e.g. '0 3 * * *'"})
    timezone = fields.String(validate=validate.Length(min=1, max=64), metadata={"example": "Europe/Zurich"})
    enabled = fields.Boolean()
    next_run = Instant(dump_only=True, allow_none=True)
    last_run = Instant(dump_only=True, allow_none=True)


class SchedulerConfigSchema(Schema):
    """The whole scheduler configuration."""

    max_files_per_type = WholeInteger(validate=validate.Range(min=1, max=1000))
    tasks = fields.List(fields.Nested(ScheduledTaskSchema))


class TriggerResultSchema(Schema):
    """A run that has started."""

    run_id = fields.Integer()
    task = fields.String()
    status = fields.String()


class TaskRunSchema(Schema):
    """One execution of a task."""

    id = fields.Integer()
    task = fields.String()
    trigger = fields.String()
    status = fields.String()
    started_at = Instant()
    finished_at = Instant(allow_none=True)
    output_file = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class TaskRunQuerySchema(PageQuerySchema):
    """Filters of the runs list."""

    task = fields.String(validate=TASK_NAMES)
    status = fields.String(validate=validate.OneOf(RUN_STATUSES))


TaskRunPageSchema = page_schema(TaskRunSchema, "TaskRunPage")
