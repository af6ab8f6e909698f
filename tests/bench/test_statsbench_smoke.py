"""bench/statsbench.py on a small synthetic history, so the statistics benchmark cannot rot (no timing asserted)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench import statsbench
from tests.insights.bench_stats import build
from tests.support.servers import ROOT, migrate


@pytest.mark.slow
@pytest.mark.integration
def test_stats_benchmark_answers_every_question(tmp_path):
    url = f"sqlite:///{tmp_path / 'musique.db'}"
    env = {"DATABASE_URL": url, "AIME_DATA_DIR": str(tmp_path)}
    migrate(env)
    build(tmp_path / "musique.db", 3_000)
    subprocess.run([sys.executable, "-m", "flask", "--app", "aime", "rollups-rebuild"], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)
    rows = statsbench.main([url, "--duration", "0.3", "--connections", "2", "--loadgen", "python",
                            "--out", str(tmp_path / "stats.json")])
    assert [r["name"] for r in rows] == [name for name, _ in statsbench.QUESTIONS]
    for row in rows:
        assert row["status"] == 200 and row["requests"] > 0 and row["non_2xx"] == 0, row
    assert json.loads((tmp_path / "stats.json").read_text())["rows"] == rows
