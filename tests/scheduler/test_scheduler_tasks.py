"""Running tasks: one TaskRun and one atomically written file per run, retention, 409 while running, skips."""
import dataclasses
import json
import re
import time

import pytest
import time_machine

from aime.database import run_write
from aime.extensions import db
from aime.models import ScheduledTask, TaskRun
from aime.jobs import scheduler, tasks

from .conftest import OUTPUT_NAME, finished_run

TRIGGER = "/api/v1/services/scheduler/trigger/"

pytestmark = pytest.mark.usefixtures("drain_triggered_runs")


def test_trigger_json_export_records_one_run_and_one_parsable_file(app, client, auth, albums, output_dir):
    response = client.post(TRIGGER + "export_json", headers=auth)
    assert response.status_code == 202
    body = response.get_json()
    assert body["task"] == "export_json" and body["status"] == "running"
    run = finished_run(client, body["run_id"])
    assert run["status"] == "success" and run["trigger"] == "manual" and run["error"] is None
    assert re.match(OUTPUT_NAME.format(task="export_json", ext="json"), run["output_file"])
    files = sorted(p.name for p in output_dir.iterdir())
    assert files == [run["output_file"]], "one file, no temporary left behind"
    document = json.loads((output_dir / run["output_file"]).read_text(encoding="utf-8"))
    assert document["total_albums"] == 2
    assert sorted(a["title"] for a in document["albums"]) == ["Kind of Blue", "Music_For *Airports*"]
    runs = client.get("/api/v1/services/scheduler/runs").get_json()
    assert runs["total"] == 1 and runs["items"][0]["id"] == body["run_id"]
    config = client.get("/api/v1/services/scheduler/config").get_json()
    last = next(t for t in config["tasks"] if t["name"] == "export_json")["last_run"]
    assert last == run["started_at"]


def test_markdown_export_file_has_the_albums(app, client, auth, albums, output_dir):
    run = finished_run(client, client.post(TRIGGER + "export_markdown", headers=auth).get_json()["run_id"])
    text = (output_dir / run["output_file"]).read_text(encoding="utf-8")
    assert run["output_file"].endswith(".md")
    assert "### Kind of Blue" in text and r"### Music\_For \*Airports\*" in text
    assert "## Miles Davis" in text and "## Brian Eno" in text


def test_retention_keeps_the_newest_files(app, output_dir):
    with app.app_context():
        scheduler.update_config({"max_files_per_type": 2})
    names = []
    for moment in ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-02T09:00:00Z", "2026-01-03T08:00:00Z"):
        with time_machine.travel(moment, tick=False):
            names.append(tasks.run_task(app, "export_json", "manual")["output_file"])
    # Two runs in the same second keep both files (the second one gets a -1 suffix).
    assert names == ["export_json-20260101-100000.json", "export_json-20260101-100000-1.json",
                     "export_json-20260102-090000.json", "export_json-20260103-080000.json"]
    assert sorted(p.name for p in output_dir.iterdir()) == names[2:]
    with app.app_context():
        assert db.session.query(TaskRun).count() == 4


def test_prune_orders_same_second_suffixes(tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    for name in ("t-20260101-100000.md", "t-20260101-100000-1.md", "t-20260101-100000-2.md", "other.md",
                 "t-20251231-235959.json"):
        (tmp_path / name).write_text("x")
    removed = tasks.prune(tmp_path, "t", "md", 1)
    assert sorted(removed) == ["t-20260101-100000-1.md", "t-20260101-100000.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.md", "t-20251231-235959.json",
                                                          "t-20260101-100000-2.md"]


def test_trigger_while_running_is_409_and_unknown_is_404(app, client, auth):
    with app.app_context():
        run_id = tasks.start_run("export_markdown", "manual")  # a run in progress (in any worker)
    response = client.post(TRIGGER + "export_markdown", headers=auth)
    assert response.status_code == 409
    assert f"run {run_id}" in response.get_json()["detail"]
    assert client.post(TRIGGER + "export_json", headers=auth).status_code == 202  # other tasks are free
    response = client.post(TRIGGER + "nope", headers=auth)
    assert response.status_code == 404 and "export_markdown" in response.get_json()["detail"]
    assert client.post(TRIGGER + "export_json").status_code == 401


def test_abandoned_run_does_not_block_forever(app, client, auth):
    def _old_run():
        db.session.add(TaskRun(task="export_json", trigger="manual", status="running",
                               started_at=int(time.time()) - tasks.STALE_RUN_SECONDS - 5))
    with app.app_context():
        scheduler.get_config()
        run_write(_old_run)
    response = client.post(TRIGGER + "export_json", headers=auth)
    assert response.status_code == 202
    finished_run(client, response.get_json()["run_id"])
    runs = client.get("/api/v1/services/scheduler/runs?task=export_json").get_json()["items"]
    assert [r["status"] for r in runs] == ["success", "failed"]
    assert runs[1]["error"].startswith("Abandoned")


def test_ai_tasks_without_ai_are_skipped_with_a_clear_reason(app, client, auth, output_dir):
    for name in ("haiku", "ai_enrichment"):
        run = finished_run(client, client.post(TRIGGER + name, headers=auth).get_json()["run_id"])
        assert run["status"] == "skipped" and run["output_file"] is None
        assert run["error"].startswith("AI is not configured")
    assert not output_dir.exists() or list(output_dir.iterdir()) == []


def test_discogs_sync_without_credentials_is_skipped(app, client, auth):
    run = finished_run(client, client.post(TRIGGER + "discogs_sync", headers=auth).get_json()["run_id"])
    assert run["status"] == "skipped" and run["output_file"] is None
    assert "discogs" in run["error"].lower()


def test_a_failing_task_is_recorded_as_failed(app, monkeypatch):
    def broken(config):
        raise RuntimeError("disk on fire")
    monkeypatch.setitem(tasks.TASKS, "export_json", dataclasses.replace(tasks.TASKS["export_json"], run=broken))
    run = tasks.run_task(app, "export_json", "manual")
    assert run["status"] == "failed" and run["error"] == "RuntimeError: disk on fire"
    assert run["finished_at"] is not None and run["output_file"] is None
    with app.app_context():
        assert db.session.get(ScheduledTask, "export_json").last_run == run["started_at"]


def test_runs_list_filters_and_validates(app, client, auth):
    for name in ("export_json", "export_markdown", "export_json"):
        tasks.run_task(app, name, "manual")
    body = client.get("/api/v1/services/scheduler/runs?task=export_json&status=success").get_json()
    assert body["total"] == 2 and {r["task"] for r in body["items"]} == {"export_json"}
    assert client.get("/api/v1/services/scheduler/runs?status=weird").status_code == 422
    assert client.get("/api/v1/services/scheduler/runs/9999").status_code == 404


def test_cli_runs_a_task(app, runner, output_dir):
    result = runner.invoke(args=["run-task", "export_json"])
    assert result.exit_code == 0, result.output
    assert re.match(r"^export_json run 1: success, wrote export_json-\d{8}-\d{6}\.json$", result.output.strip())
    assert len(list(output_dir.iterdir())) == 1
    result = runner.invoke(args=["run-task", "nope"])
    assert result.exit_code == 1 and "No scheduled task called 'nope'" in result.output
