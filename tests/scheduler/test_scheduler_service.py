"""The scheduler service: APScheduler jobs from the stored schedules, reloads, a due job runs, one holder."""
from datetime import datetime, UTC

from aime.extensions import db
from aime.models import TaskRun
from aime.jobs import runtime, scheduler, tasks

from .conftest import poll


def _epoch(iso_text):
    return int(datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp())


def test_jobs_follow_the_stored_schedule_and_reload_on_change(app):
    service = scheduler.service(app)
    with app.app_context():
        service.on_acquire(app)
        try:
            expected = {t["name"]: t["next_run"] for t in scheduler.get_config()["tasks"]}
            assert service.jobs() == expected

            scheduler.update_config({"tasks": [
                {"name": "export_json", "cron": "30 9 * * *", "timezone": "Europe/Zurich"},
                {"name": "haiku", "enabled": False}]})
            service.tick(app)  # the holder notices the new config version and rebuilds its jobs
            config = {t["name"]: t for t in scheduler.get_config()["tasks"]}
            jobs = service.jobs()
            assert "haiku" not in jobs and len(jobs) == 7  # eight tasks, haiku disabled
            assert jobs["export_json"] == config["export_json"]["next_run"]
            version = service.version
            service.tick(app)  # nothing changed: no reload
            assert service.version == version
        finally:
            service.on_release(app)
    assert service.jobs() == {}


def test_a_due_job_runs_its_task_as_a_scheduled_run(app):
    service = scheduler.service(app)
    with app.app_context():
        service.on_acquire(app)
        try:
            service.scheduler.modify_job("export_markdown", next_run_time=datetime.now(UTC))

            def _done():
                db.session.rollback()
                return db.session.query(TaskRun).filter_by(task="export_markdown", status="success").all()

            runs = poll(_done)
        finally:
            service.on_release(app)
    assert len(runs) == 1 and runs[0].trigger == "schedule" and runs[0].output_file.startswith("export_markdown-")


def test_only_one_process_runs_the_scheduler(two_processes):
    first, second = two_processes
    with first.app_context():
        runtime.set_active(first, "scheduler", True)
    for other in two_processes:
        runtime.start_runtime(other)
    holders = poll(lambda: [a for a in two_processes if scheduler.service(a).version is not None])
    assert len(holders) == 1
    holder = holders[0]
    with first.app_context():
        status = runtime.status(first, "scheduler")
    assert status["running"] and status["holder"] == holder.extensions[runtime.KEY].owner
    assert len(scheduler.service(holder).jobs()) == 8  # every default task
    with first.app_context():
        assert set(runtime.status(first, "scheduler")["state"]["next_runs"]) == set(tasks.TASKS)

    # The holder stops (worker exit): the other process takes the lease and builds its own jobs.
    runtime.stop_runtime(holder)
    other = second if holder is first else first
    poll(lambda: scheduler.service(other).version is not None)
    assert scheduler.service(holder).scheduler is None
