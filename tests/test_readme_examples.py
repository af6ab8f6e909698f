"""The README's example files exist in the repository and do what the README says (issue 14, item 13)."""
from __future__ import annotations

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
