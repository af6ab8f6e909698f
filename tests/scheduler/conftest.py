"""Helpers for scheduler tests: poll a run to its end, list output files, add albums."""
import pytest

from tests.support.polling import poll  # noqa: F401 - re-exported for the scheduler tests

OUTPUT_NAME = r"^{task}-\d{{8}}-\d{{6}}(-\d+)?\.{ext}$"


def finished_run(client, run_id, base=""):
    """Poll GET runs/<id> until the run is no longer running; returns it."""
    def _done():
        body = client.get(f"{base}/api/v1/services/scheduler/runs/{run_id}").get_json()
        return body if body["status"] != "running" else None
    return poll(_done)


@pytest.fixture
def output_dir(app):
    """Where the app writes scheduled-task files."""
    return app.extensions["aime.config"].data_dir / "scheduled-output"


@pytest.fixture
def albums(client, auth):
    """Two owned albums (titles chosen to need Markdown escaping)."""
    ids = []
    for title, artists in (("Kind of Blue", ["Miles Davis"]), ("Music_For *Airports*", ["Brian Eno"])):
        response = client.post("/api/v1/collection/albums", json={"title": title, "artists": artists},
                               headers=auth)
        assert response.status_code == 201
        ids.append(response.get_json()["id"])
    return ids


@pytest.fixture
def drain_triggered_runs(app):
    """Let triggered runs finish before the app's engine is disposed (no connection left behind)."""
    yield
    from aime.jobs.scheduler import stop_task_executor

    stop_task_executor(app)
