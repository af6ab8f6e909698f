"""scripts/health-check-robust.sh: exit codes 0/1/2, the summary line, retries, with and without jq."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.servers import free_port, gunicorn

from .conftest import HEALTH, base_env

pytestmark = pytest.mark.integration
BASH = shutil.which("bash")


def run_health(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the health script; AIME_HEALTH_BACKOFF is small so retries stay quick."""
    full = {**os.environ, "AIME_HEALTH_BACKOFF": "0.05", **(env or {})}
    return subprocess.run([BASH, str(HEALTH), *args], env=full, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    """One real AIME (migrated SQLite, real gunicorn) for the whole module."""
    tmp = tmp_path_factory.mktemp("health-script")
    env = base_env(tmp, 0)
    env.pop("AIME_BIND")
    Path(env["AIME_DATA_DIR"]).mkdir()
    with gunicorn(env, tmp / "gunicorn.log", wait_path="/ready") as server:
        yield server


@pytest.fixture
def no_jq_path(tmp_path) -> str:
    """A PATH holding only what the script needs, without jq: the sed fallback must do the same job."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("curl", "awk", "sed", "head", "sleep", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return str(bin_dir)


def test_real_server_is_healthy_ready_and_alive(real_server, no_jq_path):
    body = requests.get(real_server.url("/health"), timeout=5).json()
    assert body["status"] == "healthy"  # a default install: unconfigured integrations are disabled, not warned
    expected = (f"health: {body['status']} (HTTP 200), error rate {body['error_rate']}, "
                f"database {body['database']}, uptime ")

    for env in ({}, {"PATH": no_jq_path}):
        result = run_health("health", "--url", real_server.base_url, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(expected), (env, result.stdout)
        assert result.stdout.rstrip().endswith("s") and result.stderr == ""

        result = run_health("ready", "--url", real_server.base_url + "/", env=env)
        assert (result.returncode, result.stdout) == (0, "ready: yes (HTTP 200)\n")

    port = real_server.base_url.rsplit(":", 1)[1]
    result = run_health("live", env={"AIME_BIND": f"0.0.0.0:{port}"})  # the URL can come from AIME_BIND
    assert (result.returncode, result.stdout) == (0, "live: yes (HTTP 200)\n")
    result = run_health("live", "-q", env={"AIME_URL": real_server.base_url})
    assert (result.returncode, result.stdout) == (0, "")


def test_closed_port_is_unreachable_after_the_retries():
    url = f"http://127.0.0.1:{free_port()}"
    result = run_health("health", "--url", url, "--retries", "2", "--timeout", "1")
    assert result.returncode == 2
    assert result.stdout == f"health: unreachable at {url}/health\n"
    assert result.stderr.splitlines() == [
        f"health: unreachable at {url}/health; retrying in 0.05s (1/2)",
        f"health: unreachable at {url}/health; retrying in 0.1s (2/2)",
    ]


@pytest.mark.parametrize("use_jq", [True, False])
def test_unhealthy_and_not_ready_answers_exit_1(httpserver, use_jq, no_jq_path):
    env = {} if use_jq else {"PATH": no_jq_path}
    httpserver.expect_request("/health").respond_with_json(
        {"status": "unhealthy", "uptime_seconds": 42, "requests": 8, "errors": 1, "error_rate": "12.50%",
         "database": "unreachable", "checks": {"database": {"status": "fail", "critical": True}}}, status=503)
    httpserver.expect_request("/ready").respond_with_json(
        {"ready": False, "reasons": ["draining", "database unreachable"]}, status=503)
    url = httpserver.url_for("/").rstrip("/")

    result = run_health("health", "--url", url, "--retries", "1", env=env)
    assert result.returncode == 1
    assert result.stdout == "health: unhealthy (HTTP 503), error rate 12.50%, database unreachable, uptime 42s\n"
    assert len([entry for entry, _ in httpserver.log if entry.path == "/health"]) == 2  # first try + 1 retry

    result = run_health("ready", "--url", url, "--retries", "0", env=env)
    assert result.returncode == 1
    assert result.stdout == ("ready: no (HTTP 503): draining; database unreachable\n" if use_jq
                             else "ready: no (HTTP 503)\n")


def test_the_body_counts_not_only_the_status_code(httpserver):
    # A proxy answering 200 with {"ready": false} is still "not ready"; a 200 HTML page is no answer at all.
    httpserver.expect_request("/ready").respond_with_json({"ready": False, "reasons": ["starting"]})
    httpserver.expect_request("/health").respond_with_data("<html>maintenance</html>", content_type="text/html")
    url = httpserver.url_for("/").rstrip("/")
    result = run_health("ready", "--url", url, "--retries", "0")
    assert (result.returncode, result.stdout) == (1, "ready: no (HTTP 200): starting\n")
    result = run_health("health", "--url", url, "--retries", "0")
    assert (result.returncode, result.stdout) == (2, f"health: unexpected answer HTTP 200 from {url}/health\n")


def test_recovers_when_a_retry_succeeds(httpserver):
    httpserver.expect_oneshot_request("/ready").respond_with_json({"ready": False, "reasons": ["starting"]}, status=503)
    httpserver.expect_request("/ready").respond_with_json({"ready": True})
    result = run_health("ready", "--url", httpserver.url_for("/").rstrip("/"), "--retries", "3")
    assert (result.returncode, result.stdout) == (0, "ready: yes (HTTP 200)\n")
    assert result.stderr == "ready: no (HTTP 503): starting; retrying in 0.05s (1/3)\n"


@pytest.mark.parametrize("args, message", [
    ((), "say which probe: health, ready or live"),
    (("health", "--retries", "many"), "--retries must be a whole number, got 'many'"),
    (("ready", "--timeout", "0"), "--timeout must be a positive number of seconds, got '0'"),
    (("status",), "unknown argument 'status'"),
])
def test_bad_usage_exits_2(args, message):
    result = run_health(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_help_lists_the_exit_codes():
    result = run_health("--help")
    assert result.returncode == 0
    assert "Exit codes: 0 healthy" in result.stdout and "2 not reachable" in result.stdout


def test_script_is_executable():
    assert os.access(HEALTH, os.X_OK) and os.access(Path(HEALTH).parent / "start-services.sh", os.X_OK)
