"""bench/scale.py in its tiny mode (500 plays), so the two-instance benchmark cannot rot.

Real nginx, two real gunicorn instances, real PostgreSQL. Nothing here asserts a timing; it asserts
the balancing, the client address behind the proxy, one import stored once and each scheduled
occurrence run once. The run waits for one scheduled minute, so it takes one to two minutes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import scale

ROOT = Path(__file__).resolve().parents[2]
PROBE_ROWS = 100


def test_nginx_config_balances_over_every_instance_and_keeps_its_files_under_the_prefix(tmp_path):
    conf = scale.nginx_config(tmp_path, 8080, [9001, 9002])
    assert "        server 127.0.0.1:9001 max_fails=1 fail_timeout=5s;\n" in conf
    assert "        server 127.0.0.1:9002 max_fails=1 fail_timeout=5s;\n" in conf
    assert "listen 127.0.0.1:8080;" in conf
    # The client address reaches AIME (which trusts only the proxy and reads the chain from the right).
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
    paths = [word.rstrip(";") for word in conf.split() if word.startswith("/") and word != "/"]  # not "location /"
    assert paths and all(path.startswith(str(tmp_path) + "/") for path in paths), paths
    if scale.nginx_binary():
        (tmp_path / "nginx.conf").write_text(conf)
        checked = subprocess.run([scale.nginx_binary(), "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                                  "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_a_minute_run_twice_or_missed_is_reported():
    b = 1_700_000_040  # a minute boundary (divisible by 60)
    runs = [("export_json", b + 1, "success"), ("export_json", b + 61, "success"), ("export_json", b + 62, "success"),
            ("export_markdown", b + 2, "success")]
    judged = scale.judge_runs(runs, [b, b + 60])
    assert judged["export_json"]["runs_per_occurrence"] == [1, 2]
    assert judged["export_json"]["minutes_run_twice"] == [b + 60]
    assert judged["export_markdown"]["runs_per_occurrence"] == [1, 0]
    assert judged["export_markdown"]["minutes_run_twice"] == []


def test_a_lease_owner_is_mapped_to_its_instance():
    me = os.getpid()
    parent = os.getppid()
    assert scale.owner_instance(f"host:{me}:ab12cd34", {"A": 1, "B": parent}) == "B"  # a worker of B's master
    assert scale.owner_instance(f"host:{me}:ab12cd34", {"A": me, "B": 1}) == "A"
    assert scale.owner_instance(None, {"A": me}) is None


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """One tiny run of bench/scale.py against the test PostgreSQL server."""
    if scale.nginx_binary() is None:
        pytest.skip("nginx is not installed (scripts/install-test-system-deps.sh installs it as root with apt-get)")
    postgres = os.environ.get("AIME_TEST_POSTGRES_URL")
    if not postgres:
        pytest.skip("AIME_TEST_POSTGRES_URL is not set: the two-instance run needs PostgreSQL")
    tmp = tmp_path_factory.mktemp("scale")
    command = [sys.executable, str(ROOT / "bench" / "scale.py"), "--rows", "500", "--tiny",
               "--probe-rows", str(PROBE_ROWS), "--loadgen", "python", "--postgres-url", postgres,
               "--postgres-db", f"aime_scale_smoke_{os.getpid()}", "--data-dir", str(tmp / "data"),
               "--results-dir", str(tmp / "results"), "--work-dir", str(tmp / "work")]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AIME_DATA_DIR")}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:  # timed out or interrupted: SIGTERM lets it stop its servers and drop its database
            proc.terminate()
            stdout, stderr = proc.communicate(timeout=120)
    written = list((tmp / "results").glob("*.json"))
    assert len(written) == 1, stdout[-3000:] + stderr[-3000:]
    data = json.loads(written[0].read_text())
    data["_exit_code"], data["_stdout"] = proc.returncode, stdout
    return data


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.postgres
def test_every_claim_holds_and_the_run_exits_0(report):
    assert report["verdicts"] == {name: True for name in report["verdicts"]}
    assert len(report["verdicts"]) == 9
    assert report["_exit_code"] == 0
    assert "- yes: each scheduled occurrence ran exactly once" in report["_stdout"]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.postgres
def test_reads_are_spread_over_the_instances_in_the_upstream(report):
    passes = report["passes"]
    assert [p["label"] for p in passes] == ["A direct (no proxy)", "nginx -> A", "nginx -> A + B"]
    a, b = (f"127.0.0.1:{report['instances'][name]['port']}" for name in ("A", "B"))
    assert set(passes[1]["requests_per_upstream"]) == {a}
    spread = passes[2]["requests_per_upstream"]
    assert set(spread) == {a, b}
    assert abs(spread[a] - spread[b]) <= 1  # round robin, and nothing else talks to nginx meanwhile
    for one in passes:
        assert [row["name"] for row in one["endpoints"]] == list(scale.TINY_SET)
        for row in one["endpoints"] + [one["mix"]]:
            assert row["requests"] > 0 and row["non_2xx"] == 0 and row["errors"] == 0, row
            assert row["rps"] > 0
        assert one["mix"]["connections"] == 3  # the mix endpoints in the tiny set: album detail, journal p1, stats year
    mixed = report["mix_interleaved"]
    assert [len(values) for values in mixed["rounds"].values()] == [1, 1]  # --tiny: one round each
    assert all(value > 0 for values in mixed["rounds"].values() for value in values)
    assert mixed["two_over_one"] == round(mixed["median_rps"]["nginx -> A + B"] / mixed["median_rps"]["nginx -> A"], 2)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.postgres
def test_the_client_behind_the_proxy_is_itself_on_both_instances(report):
    client = report["client_address"]
    assert client["statuses_127_0_0_2"] == [401, 401, 401, 401, 401, 429]
    assert client["audit_lines_per_instance"] == {"A": 3, "B": 3}  # round robin: the failures counted together
    assert client["audit_lines_naming_127_0_0_2"] == 6 and client["audit_lines_naming_forged_or_proxy"] == 0
    assert client["status_127_0_0_3_right_token"] == 200


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.postgres
def test_one_file_uploaded_twice_at_once_is_stored_once(report):
    twice = report["import_twice"]
    assert [u["status"] for u in twice["uploads"]] == [202, 202]
    assert len({u["upstream"] for u in twice["uploads"]}) == 2
    assert twice["plays_in_file"] == PROBE_ROWS and twice["listens_added"] == PROBE_ROWS
    jobs = twice["jobs"]
    assert [j["status"] for j in jobs] == ["done", "done"]
    assert [j["processed"] for j in jobs] == [PROBE_ROWS, PROBE_ROWS]
    assert sum(j["imported"] for j in jobs) == PROBE_ROWS and sum(j["duplicates"] for j in jobs) == PROBE_ROWS


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.postgres
def test_each_scheduled_minute_ran_once_and_the_scheduler_moved_when_its_instance_stopped(report):
    sched = report["scheduler"]
    assert sched["occurrences"] == 1 and sched["statuses"] == ["success"]
    for task in scale.SCHEDULED:
        assert sched["tasks"][task]["runs_per_occurrence"] == [1]
        assert sched["tasks"][task]["minutes_run_twice"] == []
    failover = sched["failover"]
    stopped, successor = failover["stopped"], failover["successor"]
    assert {stopped, successor} == {"A", "B"} and failover["exit_code"] == 0
    assert [h.split(" ")[0] for h in sched["lease_holders"]] == [stopped, successor]
    reads = failover["reads_meanwhile"]
    assert reads["requests"] > 0 and reads["non_2xx"] == 0 and reads["errors"] == 0
    # The judged minute ran in the successor: its files are in the successor's data directory. Runs before the
    # stop (a minute boundary can pass while the schedule loads) are in the other one's.
    files = sched["output_files_per_instance"]
    runs = sum(sum(t["runs_per_minute"].values()) for t in sched["tasks"].values())
    assert files[successor] >= len(scale.SCHEDULED) and files[successor] + files[stopped] == runs
