"""Startup validation: the CLI command and the script run the same checks and exit 0 or 1."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from aime.health.validation import render, validate_app
from tests.conftest import POSTGRES_URL, TEST_TOKEN
from tests.support.proxy import TcpProxy
from tests.support.servers import ROOT, free_port, migrate

STEPS = ["configuration", "imports", "data_dir", "database", "migrations"]


def test_cli_validate_passes_on_a_migrated_instance(make_app):
    result = make_app().test_cli_runner().invoke(args=["validate"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"PASS {step}" for step in STEPS]
    assert lines[-1] == "startup validation passed"


def test_cli_validate_json_reports_unmigrated_database(make_app):
    result = make_app(migrate=False).test_cli_runner().invoke(args=["validate", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"]] == STEPS
    assert {c["name"]: c["ok"] for c in report["checks"]}["migrations"] is False
    assert report["checks"][-1]["message"] == "database not migrated: run `flask --app aime db upgrade`"


def test_terminal_output_uses_marks():
    from aime.health.validation import Step

    text = render([Step("database", True, "sqlite reachable"), Step("migrations", False, "behind")], tty=True)
    assert text.splitlines() == ["✅ database: sqlite reachable", "❌ migrations: behind",
                                 "startup validation FAILED"]


def _script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIME_", "SENTRY_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "validate_startup.py"), *args],
                          env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_script_passes_and_fails_like_the_command(tmp_path):
    env = {"AIME_DATA_DIR": str(tmp_path / "data"), "AIME_API_TOKEN": TEST_TOKEN}
    (tmp_path / "data").mkdir()
    migrate(env)
    good = _script(env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert [line.split(":")[0] for line in good.stdout.splitlines()[:-1]] == [f"PASS {s}" for s in STEPS]
    assert TEST_TOKEN not in good.stdout + good.stderr

    bad_cors = _script({**env, "AIME_CORS_ORIGINS": "not-an-origin"})
    assert bad_cors.returncode == 1
    assert bad_cors.stdout.splitlines()[0] == (
        "FAIL configuration: AIME_CORS_ORIGINS contains 'not-an-origin', which is not an origin like "
        "https://example.org")
    bad_dsn = _script({**env, "SENTRY_DSN": "nonsense"}, "--json")
    assert bad_dsn.returncode == 1 and json.loads(bad_dsn.stdout)["checks"][0]["ok"] is False


def test_script_reports_an_unreachable_database_without_its_credentials(tmp_path):
    env = {"AIME_DATA_DIR": str(tmp_path / "data"), "AIME_API_TOKEN": TEST_TOKEN,
           "DATABASE_URL": "postgresql+psycopg://aime:hunter2pass@127.0.0.1:1/none"}
    result = _script(env)
    assert result.returncode == 1
    assert "FAIL database: unreachable (OperationalError); check DATABASE_URL" in result.stdout
    assert "FAIL migrations: skipped: database unreachable" in result.stdout
    assert "hunter2pass" not in result.stdout + result.stderr


@pytest.mark.postgres
def test_a_database_server_that_starts_later_is_waited_for(make_app, aime_logs):
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (AIME_TEST_POSTGRES_URL unset)")
    target = make_url(POSTGRES_URL)
    port = free_port()
    url = target.set(drivername="postgresql+psycopg", host="127.0.0.1", port=port).render_as_string(
        hide_password=False)
    app = make_app(migrate=False, database_url=url)
    proxy = TcpProxy(port, (target.host or "127.0.0.1", target.port or 5432))

    def start_when_refused():
        # The server comes up only after AIME has been refused once and said it is waiting.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any("Retrying" in m for m in aime_logs.messages("aime.health.validation")):
                proxy.start()
                return
            time.sleep(0.02)

    starter = threading.Thread(target=start_when_refused)
    starter.start()
    try:
        steps = validate_app(app, wait_seconds=30)
    finally:
        starter.join()
        proxy.stop()
    database = next(step for step in steps if step.name == "database")
    assert (database.ok, database.message) == (True, "postgresql reachable")
    assert any("Retrying" in m for m in aime_logs.messages("aime.health.validation"))
