"""The README's example files exist in the repository and do what the README says (issue 14, item 13)."""
from __future__ import annotations

import io
import re

from tests.conftest import TEST_TOKEN
from tests.support.servers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_file_the_readme_imports_is_in_the_repository():
    named = re.findall(r"(?:file=@|--dry-run )(\S+)", README)
    assert named == ["docs/examples/recenttracks-alice.csv", "docs/examples/Streaming_History_Audio_2023.json"]
    for path in named:
        assert (ROOT / path).is_file(), path


def test_the_readme_dry_run_reports_nine_plays(runner):
    result = runner.invoke(args=["import", "--dry-run", str(ROOT / "docs/examples/Streaming_History_Audio_2023.json")])
    assert result.exit_code == 0, result.output
    assert "format: spotify-extended\nprocessed: 11\nwould import: 9\nduplicates: 0\nskipped: 2" in result.output


def test_the_readme_upload_imports_ten_plays(client, auth):
    from tests.importers.conftest import join_import_threads

    with open(ROOT / "docs/examples/recenttracks-alice.csv", "rb") as handle:
        response = client.post("/api/v1/imports", data={"file": (handle, "recenttracks-alice.csv")},
                               headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert response.status_code == 202, response.get_json()
    join_import_threads()
    job = client.get(f"/api/v1/imports/{response.get_json()['id']}").get_json()
    assert (job["status"], job["imported"], job["duplicates"]) == ("done", 10, 0)


def test_start_services_help_names_the_port_setting():
    import subprocess

    text = subprocess.run([str(ROOT / "scripts/start-services.sh"), "--help"], capture_output=True, text=True,
                          timeout=30).stdout
    assert "AIME_BIND               host:port gunicorn listens on [127.0.0.1:8000]" in text
    assert "the address and port are `AIME_BIND`" in README


def _readme_curls() -> list[list[str]]:
    """The README's `Use it` curl commands, in order, as argument lists (continuations joined, comments cut)."""
    import shlex

    block = README.split("## Use it", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands, current = [], None
    for word in shlex.split(block.replace("\\\n", " "), comments=True):
        if word == "curl":
            current = []
            commands.append(current)
        elif word == ";" or word.startswith(".venv/"):
            current = None
        elif current is not None:
            current.append(word)
    return commands


def test_the_readme_curl_examples_work_in_order_on_a_new_instance(app, client):
    """Each curl of the README, run in order on an empty AIME, answers 2xx, or the 503 the README announces for
    enrichment without a source (deleting album 1 before listening to it gave a 422 "no tracks to play")."""
    from aime.jobs.scheduler import stop_task_executor
    from tests.importers.conftest import join_import_threads
    from tests.scheduler.conftest import finished_run

    answers = []
    for args in _readme_curls():
        method, headers, data, files, url = "GET", {}, None, None, None
        words = iter(args)
        for word in words:
            if word == "-X":
                method = next(words)
            elif word == "-H":
                name, value = next(words).split(": ", 1)
                headers[name] = value.replace("$TOKEN", TEST_TOKEN)
            elif word == "-d":
                data, method = next(words), "POST" if method == "GET" else method
            elif word == "-F":
                field, path = next(words).split("=@", 1)
                upload = io.BytesIO((ROOT / path).read_bytes())
                files, method = {field: (upload, path.rsplit("/", 1)[-1])}, "POST"
            elif not word.startswith("-"):
                url = word.replace("$API", "/api/v1").replace("http://127.0.0.1:8000", "")
        response = client.open(url, method=method, headers=headers, data=files or data)
        join_import_threads()
        if response.status_code == 202 and "run_id" in (response.get_json(silent=True) or {}):
            assert finished_run(client, response.get_json()["run_id"])["status"] == "success"
        answers.append((method, url.split("?")[0], response.status_code))
        # The one documented refusal: enrichment on an install with no source configured says so (503).
        unconfigured = url.endswith("/services/enrich/all") and response.status_code == 503 and \
            response.get_json()["title"] == "Feature not configured"
        assert 200 <= response.status_code < 300 or unconfigured, (method, url, response.get_data(as_text=True)[:300])
    stop_task_executor(app)
    assert [code for _, _, code in answers] == [200, 201, 200, 200, 200, 503, 200, 201, 201, 200, 200, 200, 200,
                                                200, 204, 200, 201, 200, 202, 200, 200, 202, 200, 200, 200, 200,
                                                200], answers
