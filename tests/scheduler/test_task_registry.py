"""One entry in tasks.TASKS is the whole of a scheduled task: listed, scheduled by default, editable, runnable."""
import pytest
import time_machine

from aime.jobs import tasks

URL = "/api/v1/services/scheduler/config"
NOW = "2026-03-28T12:00:00Z"  # a Saturday, 12:00 UTC

pytestmark = pytest.mark.usefixtures("drain_triggered_runs")


@pytest.fixture
def hello(monkeypatch):
    """A task added the way a new one is: one registry entry, nothing else."""
    entry = tasks.Task("hello", lambda config: tasks.Output("hello\n", "txt"), "Say hello", "0 6 * * *")
    monkeypatch.setitem(tasks.TASKS, "hello", entry)
    return entry


def test_one_registry_entry_is_listed_editable_and_runnable(app, client, auth, hello):
    with time_machine.travel(NOW, tick=False):
        listed = {task["name"]: task for task in client.get(URL).get_json()["tasks"]}
        assert list(listed)[-1] == "hello"
        assert listed["hello"] == {"name": "hello", "cron": "0 6 * * *", "timezone": "UTC", "enabled": True,
                                   "next_run": "2026-03-29T06:00:00Z", "last_run": None}
        response = client.patch(URL, json={"tasks": [{"name": "hello", "cron": "30 7 * * *"}]}, headers=auth)
        assert response.status_code == 200, response.get_json()
        changed = {task["name"]: task for task in response.get_json()["tasks"]}["hello"]
        assert (changed["cron"], changed["next_run"]) == ("30 7 * * *", "2026-03-29T07:30:00Z")
    run = tasks.run_task(app, "hello", "manual")
    assert run["status"] == "success"
    assert run["output_file"].startswith("hello-") and run["output_file"].endswith(".txt")
    runs = client.get("/api/v1/services/scheduler/runs?task=hello").get_json()
    assert [item["id"] for item in runs["items"]] == [run["id"]]
    page = client.get("/services").get_data(as_text=True)
    assert '<td title="Say hello">hello' in page and 'name="cron-hello" value="30 7 * * *"' in page


def test_the_api_names_the_registered_tasks_when_refusing_one(client, auth, hello):
    response = client.patch(URL, json={"tasks": [{"name": "nope", "cron": "0 6 * * *"}]}, headers=auth)
    assert response.status_code == 422
    assert response.get_json()["errors"]["tasks"]["0"]["name"] == [
        "Unknown task; one of: export_markdown, export_json, haiku, discogs_sync, ai_enrichment, magazine, "
        "export_history, metadata_enrichment, hello."]
