"""The benchmark suite at 10,000 rows, so bench/ cannot rot: real importer, real gunicorn, real numbers.

Nothing here asserts a timing (machines are noisy); it asserts that every row was imported, the
re-import added none, and the report holds every measured endpoint with numeric values.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import loadgen, make_dataset
from bench.report import render

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = ["live", "health", "ready", "album list", "album detail", "journal p1", "journal p500",
             "timeline day", "stats year", "top artists all-time", "search"]
ROWS = 10_000

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8000/live
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  612.00us  21.30ms   91.20%
    Req/Sec     2.66k   150.11     2.90k    70.00%
  Latency Distribution
     50%    1.40ms
     75%    1.71ms
     90%    2.10ms
     99%    3.90ms
  15923 requests in 3.00s, 2.61MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   5305.12
Transfer/sec:    891.11KB
"""


def test_wrk_output_is_parsed():
    assert loadgen.parse_wrk(WRK_OUTPUT) == {
        "tool": "wrk", "requests": 15923, "seconds": 3.0, "rps": 5305.12, "p50_ms": 1.4, "p99_ms": 3.9,
        "max_ms": 21.3, "non_2xx": 12, "errors": 0}


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentile(values, 0.50) == 50.0
    assert loadgen.percentile(values, 0.99) == 99.0
    assert loadgen.percentile([], 0.99) == 0.0


def test_load_only_targets_this_machine():
    with pytest.raises(ValueError, match="127.0.0.1"):
        loadgen.check_local("http://example.org/live")


def test_dataset_is_deterministic_and_complete(tmp_path):
    first = make_dataset.write(2_000, tmp_path / "a", seed=7)
    make_dataset.write(2_000, tmp_path / "b", seed=7)
    other = make_dataset.write(2_000, tmp_path / "c", seed=8)
    for name in first["files"].values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    csv_text = (tmp_path / "a" / first["files"]["csv"]).read_text(encoding="utf-8")
    assert csv_text.splitlines()[0] == "uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid"
    assert len(csv_text.splitlines()) == 2_001
    assert csv_text != (tmp_path / "c" / other["files"]["csv"]).read_text(encoding="utf-8")
    lines = (tmp_path / "a" / first["files"]["jsonl"]).read_text(encoding="utf-8").splitlines()
    times = [json.loads(line)["listened_at"] for line in lines]
    assert len(times) == 2_000 and times == sorted(times) and len(set(times)) == 2_000
    assert make_dataset.START <= times[0] and first["listens"] == 2_000


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """One quick run of bench/run.py at 10,000 rows (and PostgreSQL when the test server is configured)."""
    tmp = tmp_path_factory.mktemp("bench")
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--rows", str(ROWS), "--quick",
               "--duration", "0.25", "--blocked-duration", "0.5", "--data-dir", str(tmp / "data"),
               "--results-dir", str(tmp / "results"), "--work-dir", str(tmp / "work")]
    postgres = os.environ.get("AIME_TEST_POSTGRES_URL")
    if postgres:
        command += ["--postgres-url", postgres, "--postgres-db", "aime_bench_smoke"]
    else:
        command.append("--skip-postgres")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AIME_DATA_DIR")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = list((tmp / "results").glob("*.json"))
    assert len(written) == 1
    data = json.loads(written[0].read_text())
    data["_stdout"] = done.stdout
    return data


def _check_endpoints(endpoints: list[dict]) -> None:
    assert [row["name"] for row in endpoints] == ENDPOINTS
    for row in endpoints:
        assert row["status"] == 200, row
        assert row["requests"] > 0 and row["non_2xx"] == 0 and row["errors"] == 0, row
        for key in ("rps", "p50_ms", "p99_ms", "ratio_to_live", "server_cpu_ms_per_request"):
            assert isinstance(row[key], (int, float)) and row[key] > 0, (key, row)
    assert endpoints[0]["ratio_to_live"] == 1.0


@pytest.mark.slow
@pytest.mark.integration
def test_import_counts(report):
    imp, dataset = report["import"], report["dataset"]
    assert dataset["listens"] == ROWS
    assert imp["first"]["exit_code"] == 0 and imp["first"]["rows_added"] == ROWS
    assert imp["first"]["peak_rss_mb"] > 0 and imp["first"]["rows_per_s"] > 0
    assert imp["reimport"]["exit_code"] == 0 and imp["reimport"]["rows_added"] == 0
    assert imp["reimport"]["listens_total"] == ROWS
    assert imp["floor"]["rows_added"] == ROWS and imp["first"]["ratio_to_floor"] > 0
    # The catalogue AIME builds is the one the generator describes (names normalised the same way).
    assert (imp["artists"], imp["tracks"]) == (dataset["artists"], dataset["tracks"])
    assert imp["albums"] >= dataset["albums"]  # plus owned records that were never played
    assert imp["collection"]["owned"] == 1_000


@pytest.mark.slow
@pytest.mark.integration
def test_http_report_has_every_endpoint_with_numbers(report):
    _check_endpoints(report["http_sqlite"]["endpoints"])
    assert report["http_sqlite"]["collection_albums"] == 1_000


@pytest.mark.slow
@pytest.mark.integration
def test_health_measured_while_database_blocked(report):
    names = [row["name"] for row in report["blocked"]]
    assert names == ["sqlite write lock held"]
    rows = report["blocked"] + report.get("http_postgres", {}).get("blocked", [])
    for row in rows:
        assert row["requests"] > 0 and isinstance(row["p99_ms"], (int, float)), row
    if "http_postgres" in report:
        assert [row["name"] for row in report["http_postgres"]["blocked"]] == ["postgres hanging", "postgres refusing"]
        assert report["http_postgres"]["blocked"][1]["statuses"] == [503]  # the truth: the database is gone


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.postgres
def test_postgres_set(report):
    if "http_postgres" not in report:
        pytest.skip("AIME_TEST_POSTGRES_URL is not set")
    pg = report["http_postgres"]
    assert pg["import"]["exit_code"] == 0 and pg["import"]["rows_added"] == ROWS
    _check_endpoints(pg["endpoints"])


@pytest.mark.slow
@pytest.mark.integration
def test_table_and_targets(report):
    table = render(report)
    assert report["_stdout"].startswith(table.splitlines()[0])
    for name in ENDPOINTS:
        assert f"| {name} |" in table
    names = {check["name"] for check in report["targets"]}
    assert {"import rows added = dataset rows", "import peak RSS", "import / plain-sqlite3 floor",
            "re-import rows added", "sqlite health rps / live", "sqlite top artists all-time p99",
            "/health p99, sqlite write lock held"} <= names
    met = {check["name"]: check["met"] for check in report["targets"]}
    assert met["import rows added = dataset rows"] is True and met["re-import rows added"] is True
