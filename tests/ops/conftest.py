"""Fixtures for the operations tests: the start script, the health script and gunicorn's lifecycle."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.polling import poll
from tests.support.servers import ROOT, Gunicorn, free_port, migrate

TOKEN = "ops-test-token-0123456789abcdef"
START = ROOT / "scripts" / "start-services.sh"
HEALTH = ROOT / "scripts" / "health-check-robust.sh"
ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"

# Variables a developer's shell may have set that would point the tests at the wrong place.
_SCRUB = ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "AIME_URL", "AIME_DATA_DIR", "AIME_LOG_FILE", "AIME_BIND",
          "AIME_VENV", "AIME_PYTHON", "SENTRY_DSN", "FLASK_APP")


def base_env(tmp_path: Path, port: int) -> dict[str, str]:
    """A full environment for one isolated AIME instance in tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update({
        "AIME_DATA_DIR": str(tmp_path / "data"), "AIME_LOG_FILE": str(tmp_path / "logs" / "aime.log"),
        "AIME_BIND": f"127.0.0.1:{port}", "AIME_API_TOKEN": TOKEN, "AIME_VENV": sys.prefix,
        "AIME_WORKERS": "2", "AIME_THREADS": "4", "AIME_GRACEFUL_TIMEOUT": "10",
        "AIME_MONITOR_INTERVAL": "0.3", "AIME_RESTART_BACKOFF": "0.2", "AIME_READY_TIMEOUT": "60",
        "AIME_HEALTH_INTERVAL": "5", "AIME_DISK_MIN_FREE_MB": "10", "NO_COLOR": "1",
    })
    return env


def status_of(url: str) -> int | None:
    """HTTP status of GET url, or None when nothing answers."""
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return None


def pid_in(path: Path) -> int | None:
    """The pid written in a pid file, if the file exists."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    """True when pid is a live (non-zombie) process."""
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class StartScript:
    """scripts/start-services.sh running (or run) for one tmp instance."""

    def __init__(self, tmp_path: Path, **overrides: str):
        self.tmp_path = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**base_env(tmp_path, self.port), **overrides}
        self.data = Path(self.env["AIME_DATA_DIR"])
        self.log_file = Path(self.env["AIME_LOG_FILE"])
        self.out_path = tmp_path / f"start-{time.monotonic_ns()}.out"
        self.proc: subprocess.Popen | None = None
        self._spawned: list[subprocess.Popen] = []

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Run the script to completion (--once, --stop, a refused start ...)."""
        return subprocess.run(["bash", str(START), "--no-install", *args], env=self.env, cwd=self.tmp_path,
                              capture_output=True, text=True, timeout=timeout)

    def spawn(self, *args: str) -> subprocess.Popen:
        """Start the supervising script in the background; its output goes to self.out_path."""
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(["bash", str(START), "--no-install", *args], env=self.env, cwd=self.tmp_path,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self._spawned.append(self.proc)
        return self.proc

    def output(self) -> str:
        """What the supervising script printed so far."""
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def wait_output(self, text: str, timeout: float = 120.0) -> None:
        """Poll until the script printed text (or fail with what it printed)."""
        def seen():
            if text in self.output():
                return True
            if self.proc is not None and self.proc.poll() is not None and text not in self.output():
                raise AssertionError(f"script exited {self.proc.returncode} without printing {text!r}:\n"
                                     f"{self.output()}")
            return False
        try:
            poll(seen, timeout, f"output {text!r}")
        except TimeoutError:
            raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output()}") from None

    def gunicorn_pid(self) -> int | None:
        """The current gunicorn master pid (from gunicorn.pid)."""
        return pid_in(self.data / "gunicorn.pid")

    def cleanup(self) -> None:
        """Stop whatever the test left running (supervisor, then any gunicorn it started)."""
        for proc in self._spawned:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        gpid = self.gunicorn_pid()
        if alive(gpid):
            os.kill(gpid, signal.SIGTERM)
            poll(lambda: not alive(gpid), 30, "gunicorn exit")


@pytest.fixture
def start_script(tmp_path):
    """Factory of StartScript instances, all cleaned up after the test."""
    made: list[StartScript] = []

    def make(**overrides: str) -> StartScript:
        script = StartScript(tmp_path, **overrides)
        made.append(script)
        return script

    yield make
    for script in made:
        script.cleanup()


@pytest.fixture
def slow_server(tmp_path):
    """Factory: a migrated tmp instance of tests.support.slow_app under real gunicorn."""
    servers: list[Gunicorn] = []

    def make(**overrides: str) -> Gunicorn:
        env = {**base_env(tmp_path, 0), **overrides}
        env.pop("AIME_BIND")
        Path(env["AIME_DATA_DIR"]).mkdir(exist_ok=True)
        migrate(env)
        server = Gunicorn(env, tmp_path / "gunicorn.log", "tests.support.slow_app:app")
        servers.append(server)
        return server.start(wait_path="/ready")

    yield make
    for server in servers:
        server.stop()
