"""scripts/start-services.sh for real: start, refuse a second start, restart after a crash, give up, stop."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests

from .conftest import TOKEN, alive, pid_in, poll, status_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_supervised_start_refuses_a_second_start_and_stops_cleanly_with_stop(start_script):
    script = start_script()
    proc = script.spawn()
    script.wait_output("AIME is ready at " + script.url)
    script.wait_output("Ctrl+C stops")  # the last line of the start-up block
    out = script.output()
    assert "API token: AIME_API_TOKEN is set" in out
    assert f"log file:  {script.log_file}" in out
    assert status_of(script.url + "/ready") == 200
    assert pid_in(script.data / "aime.pid") == proc.pid
    master = script.gunicorn_pid()
    assert alive(master)
    for name in ("metrics",):
        assert (script.data / name).is_dir()

    second = script.run()
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"AIME is already running for {script.data} (pid {proc.pid})" in second.stderr
    assert "scripts/start-services.sh --stop" in second.stderr
    assert alive(master)  # the refused start touched nothing

    stop = script.run("--stop")  # SIGTERM to the supervisor, which stops gunicorn gracefully
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert f"stopping AIME (pid {proc.pid})" in stop.stdout
    assert proc.wait(timeout=30) == 0
    assert not alive(master)
    assert f"stopping gunicorn (pid {master}) gracefully, up to 10s" in script.output()
    assert not (script.data / "aime.pid").exists() and not (script.data / "gunicorn.pid").exists()
    assert "AIME stopped" in script.output()
    # Our own lines in the log file are JSON like everyone else's.
    ours = [json.loads(line) for line in script.log_file.read_text().splitlines() if '"aime.supervisor"' in line]
    assert any(line["message"] == "AIME stopped" for line in ours)


def _listen_on(port: int) -> socket.socket | None:
    """A socket listening on port, or None while something else still holds it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    sock.listen(16)
    return sock


def _dead_pid() -> int:
    """The pid of a process that has already exited (as a crash leaves in a pid file)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert not alive(proc.pid)
    return proc.pid


def test_once_ignores_stale_pid_files_refuses_a_second_start_and_stops(start_script):
    script = start_script(AIME_LOG_MAX_MB="1")
    script.data.mkdir(parents=True)
    script.log_file.parent.mkdir(parents=True)
    old_log = ('{"message": "an old line"}\n' * 40_000).encode()  # 1.1 MB: over AIME_LOG_MAX_MB
    script.log_file.write_bytes(old_log)
    dead = _dead_pid()
    (script.data / "aime.pid").write_text(f"{dead}\n")
    (script.data / "gunicorn.pid").write_text(f"{dead}\n")

    first = script.run("--once")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "removing stale pid files left by an earlier run" in first.stdout
    assert "AIME is ready at " + script.url in first.stdout
    master = pid_in(script.data / "gunicorn.pid")
    assert alive(master) and status_of(script.url + "/ready") == 200
    # Rotated before the start: the old content moved to .1, the live file starts afresh.
    assert Path(f"{script.log_file}.1").read_bytes().startswith(old_log)
    assert b"an old line" not in script.log_file.read_bytes()

    again = script.run("--once")
    assert again.returncode == 2
    assert f"already running for {script.data} (gunicorn pid {master}, started with --once)" in again.stderr

    stop = script.run("--stop")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert not alive(master)
    assert status_of(script.url + "/live") is None
    assert script.run("--stop").stdout.strip().endswith(f"AIME is not running (data directory {script.data})")


def test_foreground_execs_gunicorn_in_place_and_holds_the_lock(start_script):
    script = start_script()
    proc = script.spawn("--foreground")
    poll(lambda: status_of(script.url + "/ready") == 200 or proc.poll() is not None, 60, "/ready")
    assert proc.poll() is None, script.output()
    assert b"gunicorn" in Path(f"/proc/{proc.pid}/cmdline").read_bytes()  # same pid, now gunicorn
    assert pid_in(script.data / "aime.pid") == proc.pid == script.gunicorn_pid()

    refused = script.run("--once")
    assert refused.returncode == 2 and f"already running for {script.data} (pid {proc.pid})" in refused.stderr
    assert script.run("--stop").returncode == 0
    assert proc.wait(timeout=30) == 0


def test_restarts_after_the_master_is_killed_and_gives_up_after_three_failed_restarts(start_script):
    script = start_script(AIME_PORT_WAIT="0.5")
    proc = script.spawn()
    script.wait_output("AIME is ready at")
    master = script.gunicorn_pid()

    os.kill(master, signal.SIGKILL)  # a crash: no chance to clean up; its workers are orphaned
    script.wait_output("gunicorn restarted and ready")
    new_master = script.gunicorn_pid()
    assert new_master != master and alive(new_master)
    assert status_of(script.url + "/ready") == 200
    assert f"gunicorn (pid {master}) died" in script.output()
    assert "restarting gunicorn in 0.2s (attempt 1 of 3)" in script.output()
    assert proc.poll() is None

    # Now the whole gunicorn group dies at once and another program takes the port: every restart fails.
    before = len(script.output())
    os.killpg(new_master, signal.SIGKILL)
    squatter = poll(lambda: _listen_on(script.port), 10, "port released by the killed workers")
    try:
        assert proc.wait(timeout=60) == 1
    finally:
        squatter.close()
    out = script.output()[before:]
    assert out.count(f"✘ port {script.port} is still in use: cannot start gunicorn") == 3
    for attempt, delay in ((1, "0.2"), (2, "0.4"), (3, "0.8")):
        assert f"restarting gunicorn in {delay}s (attempt {attempt} of 3)" in out
        assert f"restart attempt {attempt} failed" in out
    assert "gave up after 3 failed restarts in a row" in out
    assert f"--- last lines of {script.log_file} ---" in out
    assert not (script.data / "aime.pid").exists()


def _import_state(data: Path, job_id: int) -> tuple[int, tuple]:
    """Rows in listens and the job's (status, processed, imported), read straight from the SQLite file."""
    with sqlite3.connect(data / "musique.db") as conn:
        listens = conn.execute("SELECT count(*) FROM listens").fetchone()[0]
        job = conn.execute("SELECT status, processed, imported FROM imports WHERE id = ?", (job_id,)).fetchone()
    return listens, job


@pytest.mark.resilience
def test_kill_9_of_the_whole_server_mid_import_keeps_whole_batches_and_the_import_resumes(start_script):
    script = start_script(AIME_IMPORT_LEASE_SECONDS="5")  # also how often the server looks for stale jobs
    script.spawn()
    script.wait_output("AIME is ready at")
    # The importer commits 1,000 to 20,000 rows at a time (its first batch 2,000), with the job's progress; the
    # kill comes as soon as the first batch is seen committed. 50,000 rows are at least four more batches (2,000,
    # then at most twice the last: 4,000, 8,000, 16,000, 20,000), so the kill lands mid-import with rows left for
    # the resume (300,000 before: the same batches and resume, five times the import's CPU).
    rows, batch = 50_000, 1_000
    history = "uts,artist,track\n" + "".join(
        f"{1_500_000_000 + 200 * i},Artist {i % 37},Song {i % 101}\n" for i in range(rows))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.post(script.url + "/api/v1/imports", headers=auth, timeout=60,
                             files={"file": ("recenttracks.csv", history.encode())})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    def under_way():
        job = requests.get(f"{script.url}/api/v1/imports/{job_id}", timeout=10).json()
        assert job["status"] != "done", "the import finished before the kill: make the file bigger"
        return job["processed"] >= batch
    poll(under_way, 60, "the first batch committed")

    master = script.gunicorn_pid()
    os.killpg(master, signal.SIGKILL)  # the whole server at once, mid-import
    poll(lambda: not alive(master), 10, "the server gone")
    listens, (status, processed, imported) = _import_state(script.data, job_id)
    assert status == "running"
    assert listens == imported == processed and 0 < listens < rows  # whole batches only: rows = committed count

    script.wait_output("gunicorn restarted and ready")
    # Nobody asks: the restarted server resumes the job itself once its lease ran out (5 s here, 60 s by default).
    poll(lambda: requests.get(f"{script.url}/api/v1/imports/{job_id}", timeout=10).json()["status"] == "done",
         120, "the import resumed and finished")
    job = requests.get(f"{script.url}/api/v1/imports/{job_id}", timeout=10).json()
    assert (job["processed"], job["imported"], job["duplicates"], job["error_count"]) == (rows, rows, 0, 0)
    assert _import_state(script.data, job_id)[0] == rows  # nothing lost, nothing twice


@pytest.mark.resilience
def test_a_busy_server_is_never_restarted_while_a_300k_import_runs(start_script):
    # The script polls /health every 0.3 s and restarts after 3 failures; before, the import's write lock made
    # the database check fail and the script could kill the very import that made the server busy.
    script = start_script(AIME_HEALTH_CHECK_TIMEOUT="1", AIME_HEALTH_SUCCESS_TTL="1")
    script.spawn()
    script.wait_output("AIME is ready at")
    master = script.gunicorn_pid()
    rows = 300_000
    history = "uts,artist,track\n" + "".join(
        f"{1_500_000_000 + 200 * i},Artist {i % 37},Song {i % 101}\n" for i in range(rows))
    response = requests.post(script.url + "/api/v1/imports", headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=60, files={"file": ("recenttracks.csv", history.encode())})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    poll(lambda: requests.get(f"{script.url}/api/v1/imports/{job_id}", timeout=30).json()["status"] == "done",
         600, "the import done")
    out = script.output()
    assert "/health answered" not in out and "restarting gunicorn" not in out, out
    assert script.gunicorn_pid() == master
    assert _import_state(script.data, job_id) == (rows, ("done", rows, rows))


def test_prerequisite_failures_say_what_to_fix(start_script, tmp_path):
    busy = start_script()
    holder = _listen_on(busy.port)
    try:
        result = busy.run()
    finally:
        holder.close()
    assert result.returncode == 1
    assert f"port {busy.port} on 127.0.0.1 is already in use by another process" in result.stderr
    assert "fix: stop what listens there" in result.stderr

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data directory should be")
    result = start_script(AIME_DATA_DIR=str(blocked / "data")).run()
    assert result.returncode == 1
    assert f"cannot create the data directory {blocked / 'data'}" in result.stderr

    result = start_script(AIME_DISK_MIN_FREE_MB=str(10**9)).run()
    assert result.returncode == 1 and "MB free in" in result.stderr and "AIME_DISK_MIN_FREE_MB" in result.stderr

    result = start_script(AIME_BIND="127.0.0.1:http").run()
    assert result.returncode == 1 and "AIME_BIND=127.0.0.1:http has no valid port" in result.stderr

    usage = start_script().run("--bogus")
    assert usage.returncode == 2 and "unknown option '--bogus'" in usage.stderr


def test_help_documents_every_option_and_variable(start_script):
    text = start_script().run("--help").stdout
    source = (__import__("pathlib").Path(__file__).resolve().parents[2] / "scripts" / "start-services.sh").read_text()
    import re

    options = set(re.findall(r"^\s+(--[a-z-]+)\)", source, re.M))
    variables = set(re.findall(r"\$\{((?:AIME|PROMETHEUS)_[A-Z_]+):-", source))
    assert options == {"--once", "--foreground", "--stop", "--no-install"}
    for name in options | variables | {"NO_COLOR"}:
        assert name in text, name


@pytest.mark.postgres
def test_restarts_an_unhealthy_service_with_backoff_until_the_database_is_back(start_script, postgres_admin_url):
    import requests

    from sqlalchemy.engine import make_url

    from tests.conftest import drop_postgres_database, make_postgres_database
    from tests.support.proxy import TcpProxy
    from tests.support.servers import free_port

    url = make_postgres_database(postgres_admin_url)
    real = make_url(url)
    target = (real.host or "127.0.0.1", real.port or 5432)
    port = free_port()
    forwarder = TcpProxy(port, target).start()
    try:
        script = start_script(
            DATABASE_URL=real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False),
            AIME_READY_TIMEOUT="30", AIME_STARTUP_DB_WAIT_SECONDS="0.5", AIME_HEALTH_SUCCESS_TTL="0.1",
            AIME_HEALTH_FAILURE_TTL="0.1", AIME_HEALTH_CHECK_TIMEOUT="1")
        proc = script.spawn()
        script.wait_output("Ctrl+C stops")
        first_master = script.gunicorn_pid()

        forwarder.stop()  # the database goes away: /health turns 503, three polls in a row
        script.wait_output("/health answered 503 (3 of 3 before a restart)")
        script.wait_output("restart attempt 1 failed")  # still away: the restart fails too
        forwarder = TcpProxy(port, target).start()  # it is back
        script.wait_output("gunicorn restarted and ready")

        out = script.output()
        for n in (1, 2):
            assert f"/health answered 503 ({n} of 3 before a restart)" in out
        assert "restarting gunicorn in 0.2s (attempt 1 of 3)" in out
        assert "restarting gunicorn in 0.4s (attempt 2 of 3)" in out
        assert "attempt 3 of 3" not in out and not alive(first_master)
        # Healthy again (polled: on a loaded machine a check can still pass its 1 s timeout just after the restart).
        poll(lambda: status_of(script.url + "/health") == 200, 30, "/health 200 after the restart")
        # The whole service runs on PostgreSQL (migrations included): a write lands there, not in SQLite.
        created = requests.post(script.url + "/api/v1/collection/albums", timeout=10,
                                headers={"Authorization": f"Bearer {script.env['AIME_API_TOKEN']}"},
                                json={"title": "A Love Supreme", "artists": ["John Coltrane"], "year": 1965})
        assert created.status_code == 201, created.text
        assert not (script.data / "musique.db").exists()
        assert script.run("--stop").returncode == 0
        assert proc.wait(timeout=30) == 0
    finally:
        forwarder.stop()
        drop_postgres_database(postgres_admin_url, url)


def test_installs_when_the_venv_is_new_or_the_dependencies_changed(start_script, tmp_path):
    import hashlib
    import sys

    from tests.support.servers import ROOT, free_port

    # A virtualenv whose python records pip calls (no network here) and is the real one otherwise.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    calls = tmp_path / "pip-calls.txt"
    (venv / "bin" / "python").write_text(
        "#!/usr/bin/env bash\n"
        f'if [[ "$1 $2 $3" == "-m pip install" ]]; then echo "$*" >> {calls}; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n')
    (venv / "bin" / "python").chmod(0o755)
    # Stop right after the install step, deterministically: the database refuses connections.
    script = start_script(AIME_VENV=str(venv),
                          DATABASE_URL=f"postgresql+psycopg://aime@127.0.0.1:{free_port()}/aime")

    def start() -> subprocess.CompletedProcess:
        result = subprocess.run(["bash", str(ROOT / "scripts" / "start-services.sh")], env=script.env,
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1 and "database migrations failed" in result.stderr, result.stderr
        return result

    expected_hash = hashlib.sha256(b"".join((ROOT / name).read_bytes() for name in
                                            ("setup.cfg", "pyproject.toml", "constraints.txt")
                                            if (ROOT / name).exists())).hexdigest()
    first = start()
    assert "installing AIME and its dependencies" in first.stdout
    assert calls.read_text().splitlines() == [
        f"-m pip install --disable-pip-version-check -e {ROOT} -c {ROOT / 'constraints.txt'}"]
    assert (venv / ".aime-install-hash").read_text().strip() == expected_hash

    second = start()  # nothing changed: no pip
    assert "installing" not in second.stdout and len(calls.read_text().splitlines()) == 1

    (venv / ".aime-install-hash").write_text("hash of older dependency files\n")
    third = start()  # setup.cfg/constraints changed since the last install
    assert "installing AIME and its dependencies" in third.stdout
    assert len(calls.read_text().splitlines()) == 2


def test_an_uninstalled_or_unimportable_aime_is_named_with_its_fix(start_script, tmp_path):
    import sys

    from tests.support.servers import ROOT

    def venv_running(name: str, command: str) -> Path:
        """A virtualenv (for --no-install) whose python runs `command "$@"`."""
        python = tmp_path / name / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text(f"#!/usr/bin/env bash\n{command} \"$@\"\n")
        python.chmod(0o755)
        return python

    # An interpreter that finds none of aime, gunicorn and flask (-I -S: no site-packages, no PYTHONPATH).
    bare = venv_running("bare", f"exec {sys.executable} -I -S")
    # One that finds them all but cannot import flask (a broken package first on its path): the migrations
    # fail, and the script says why.
    stub = tmp_path / "stub"
    (stub / "flask").mkdir(parents=True)
    (stub / "flask" / "__init__.py").write_text("raise ImportError('a broken flask')\n")
    broken = venv_running("broken", f"PYTHONPATH={stub} exec {sys.executable}")
    for python in (bare, broken):
        result = start_script(AIME_VENV=str(python.parents[1])).run()
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"✘ AIME is not installed for {python}\n" in result.stderr
        assert f"fix: run without --no-install, or: {python} -m pip install -e '{ROOT}'\n" in result.stderr
        assert "database migrations failed" not in result.stderr
        assert not (tmp_path / "data" / "gunicorn.pid").exists()


@pytest.mark.parametrize("no_color, coloured", [(None, True), ("1", False)])
def test_colours_only_on_a_terminal_and_never_with_no_color(start_script, no_color, coloured):
    import pty

    from tests.support.servers import ROOT

    script = start_script()
    env = {k: v for k, v in script.env.items() if k != "NO_COLOR"}
    if no_color:
        env["NO_COLOR"] = no_color
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "start-services.sh"), "--stop"], env=env,
                                stdout=secondary, stderr=secondary)
        os.close(secondary)
        assert proc.wait(timeout=30) == 0
        output = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(primary)
    assert b"AIME is not running" in output
    assert (b"\x1b[" in output) is coloured
    assert b"\x1b[" not in script.run("--stop").stdout.encode()  # not a terminal: plain
