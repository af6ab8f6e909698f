"""Scheduled tasks: their configuration, manual triggers, and the record of runs."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from ..schemas.scheduler import (SchedulerConfigSchema, TaskRunPageSchema, TaskRunQuerySchema, TaskRunSchema,
                                 TriggerResultSchema)
from ..jobs import scheduler, tasks

blp = Blueprint("scheduler", __name__, description="Scheduled tasks (exports, haiku, Discogs sync, AI enrichment)")


@blp.route("/services/scheduler/config")
class SchedulerConfig(MethodView):
    """The stored schedules."""

    @blp.response(200, SchedulerConfigSchema)
    def get(self):
        """Every task's schedule (cron + IANA zone), next and last run, and how many files are kept."""
        return scheduler.get_config()

    @blp.arguments(SchedulerConfigSchema)
    @blp.response(200, SchedulerConfigSchema)
    def patch(self, data):
        """Change max_files_per_type and/or some tasks; saved at once and kept across restarts."""
        return scheduler.update_config(data)


@blp.route("/services/scheduler/trigger/<string:task>", methods=["POST"])
@blp.response(202, TriggerResultSchema)
def trigger(task):
    """Run a task now (whether or not the scheduler is started); 409 while a run of it is in progress."""
    return scheduler.trigger(current_app._get_current_object(), task)


@blp.route("/services/scheduler/runs")
@blp.arguments(TaskRunQuerySchema, location="query")
@blp.response(200, TaskRunPageSchema)
def runs(query):
    """Task runs, newest first."""
    return tasks.list_runs(**query)


@blp.route("/services/scheduler/runs/<int:run_id>")
@blp.response(200, TaskRunSchema)
def run(run_id):
    """One task run."""
    return tasks.get_run(run_id)
