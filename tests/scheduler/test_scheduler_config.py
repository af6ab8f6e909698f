"""Scheduler configuration: defaults, PATCH kept across restarts, validation, next_run in each task's zone."""
import pytest
import time_machine

from aime import create_app

URL = "/api/v1/services/scheduler/config"
# Saturday 28 March 2026, 12:00 UTC; Europe/Zurich moves to summer time (UTC+2) on Sunday 29 March at 02:00.
NOW = "2026-03-28T12:00:00Z"

pytestmark = pytest.mark.usefixtures("drain_triggered_runs")


def by_name(body):
    return {task["name"]: task for task in body["tasks"]}


def test_defaults_are_created_with_next_runs_in_utc(client):
    with time_machine.travel(NOW, tick=False):
        body = client.get(URL).get_json()
    assert body["max_files_per_type"] == 5
    tasks = by_name(body)
    assert list(tasks) == ["export_markdown", "export_json", "haiku", "discogs_sync", "ai_enrichment", "magazine",
                           "export_history", "metadata_enrichment"]
    assert tasks["export_markdown"] == {"name": "export_markdown", "cron": "0 3 * * *", "timezone": "UTC",
                                        "enabled": True, "next_run": "2026-03-29T03:00:00Z", "last_run": None}
    assert tasks["haiku"]["cron"] == "0 8 * * 1" and tasks["haiku"]["next_run"] == "2026-03-30T08:00:00Z"
    assert tasks["magazine"]["cron"] == "0 7 1 * *" and tasks["magazine"]["next_run"] == "2026-04-01T07:00:00Z"


def test_patch_is_kept_across_a_restart_and_next_run_uses_the_task_zone(app, client, auth):
    change = {"max_files_per_type": 3, "tasks": [
        {"name": "export_json", "cron": "30 9 * * *", "timezone": "Europe/Zurich"},
        {"name": "haiku", "enabled": False}]}
    with time_machine.travel(NOW, tick=False):
        response = client.patch(URL, json=change, headers=auth)
        assert response.status_code == 200, response.get_json()
        # 09:30 in Zurich on the 29th is already summer time: 07:30 UTC (it would be 08:30 UTC a day earlier).
        assert by_name(response.get_json())["export_json"]["next_run"] == "2026-03-29T07:30:00Z"

        restarted = create_app(app.extensions["aime.config"])
        body = restarted.test_client().get(URL).get_json()
    tasks = by_name(body)
    assert body["max_files_per_type"] == 3
    assert tasks["export_json"] == {"name": "export_json", "cron": "30 9 * * *", "timezone": "Europe/Zurich",
                                    "enabled": True, "next_run": "2026-03-29T07:30:00Z", "last_run": None}
    assert tasks["haiku"]["enabled"] is False and tasks["haiku"]["next_run"] is None
    assert tasks["export_markdown"]["cron"] == "0 3 * * *"  # untouched
    from aime.extensions import db

    with restarted.app_context():
        db.engine.dispose()


def test_invalid_cron_and_zone_are_422_per_field_and_change_nothing(client, auth):
    response = client.patch(URL, json={"max_files_per_type": 2, "tasks": [
        {"name": "export_json", "cron": "61 * * * *"},
        {"name": "haiku", "timezone": "Mars/Olympus_Mons"},
        {"name": "export_markdown", "cron": "0 4 * * *"}]}, headers=auth)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]["tasks"]
    assert set(errors) == {"0", "1"}
    assert list(errors["0"]) == ["cron"] and "61 * * * *" in errors["0"]["cron"][0]
    assert list(errors["1"]) == ["timezone"] and "Mars/Olympus_Mons" in errors["1"]["timezone"][0]
    body = client.get(URL).get_json()
    assert body["max_files_per_type"] == 5 and by_name(body)["export_markdown"]["cron"] == "0 3 * * *"


def test_shape_errors(client, auth):
    bad = {"max_files_per_type": 0, "tasks": [{"name": "mine_bitcoin"}, {"cron": "* * * * *"}]}
    response = client.patch(URL, json=bad, headers=auth)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "max_files_per_type" in errors
    assert "name" in errors["tasks"]["0"] and "name" in errors["tasks"]["1"]
    assert client.patch(URL, json={"max_files_per_type": 4}).status_code == 401
    assert client.patch(URL, json={"max_files_per_type": 4}, headers=auth).get_json()["max_files_per_type"] == 4
