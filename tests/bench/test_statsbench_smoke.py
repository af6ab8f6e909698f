"""bench/statsbench.py on a small synthetic history, so the statistics benchmark cannot rot (no timing asserted)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench import stats_cpu, statsbench
from tests.insights.bench_stats import build
from tests.support.servers import ROOT, migrate


@pytest.fixture(scope="module")
def history_db(tmp_path_factory):
    """(data dir, database URL) of a migrated SQLite database with 3,000 synthetic plays and their rollups."""
    directory = tmp_path_factory.mktemp("stats")
    url = f"sqlite:///{directory / 'musique.db'}"
    env = {"DATABASE_URL": url, "AIME_DATA_DIR": str(directory)}
    migrate(env)
    build(directory / "musique.db", 3_000)
    subprocess.run([sys.executable, "-m", "flask", "--app", "aime", "rollups-rebuild"], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)
    return directory, url


@pytest.mark.slow
@pytest.mark.integration
def test_stats_benchmark_answers_every_question(history_db, tmp_path):
    _, url = history_db
    rows = statsbench.main([url, "--duration", "0.3", "--connections", "2", "--loadgen", "python",
                            "--out", str(tmp_path / "stats.json")])
    assert [r["name"] for r in rows] == [name for name, _ in statsbench.QUESTIONS]
    for row in rows:
        assert row["status"] == 200 and row["requests"] > 0 and row["non_2xx"] == 0, row
    assert json.loads((tmp_path / "stats.json").read_text())["rows"] == rows


@pytest.mark.slow
@pytest.mark.integration
def test_stats_cpu_script_measures_every_question(history_db):
    """bench/stats_cpu.py runs to the end: a line per period question, per all-time top list and the timeline
    (it once called a function the statistics module had renamed, and nothing noticed)."""
    directory, url = history_db
    done = subprocess.run([sys.executable, "bench/stats_cpu.py", str(directory), url], cwd=ROOT,
                          env={**os.environ, "RUNS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert [line.split(" history_stats")[0].strip() for line in lines if " history_stats " in line] == [
        case[0] for case in stats_cpu.CASES]
    assert [line.split()[1] for line in lines if line.startswith("top ")] == ["artists", "albums", "tracks"]
    assert sum(line.startswith("timeline ") for line in lines) == 1
