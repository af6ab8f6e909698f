"""Every benchmark script answers --help with its usage and runs nothing: no benchmark, no file left behind."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(path for path in (ROOT / "bench").glob("*.py") if '__name__ == "__main__"' in path.read_text())


def test_every_bench_script_answers_help_and_runs_nothing(tmp_path):
    """`python bench/X.py --help` exits 0 with argparse's usage line and writes nothing into its TMPDIR.

    Several scripts read sys.argv by hand: --help was taken as a database URL or a data directory (two of them
    started a measurement with it, others stopped on a traceback) and one left a metrics directory in /tmp."""
    names = {path.name for path in SCRIPTS}
    assert {"run.py", "pg_hang.py", "stats_cpu.py", "importbench.py", "floor_cpu.py"} <= names
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    # All at once: each starts an interpreter that imports the app (about half a CPU-second).
    started = {path.name: subprocess.Popen([sys.executable, str(path), "--help"], cwd=ROOT, env=env,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for path in SCRIPTS}
    answers = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=300)
        answers[name] = (process.returncode, (out or err).split("\n", 1)[0])
    assert answers == {name: (0, answers[name][1]) for name in names}
    assert {name for name, (_, first) in answers.items() if not first.startswith(f"usage: {name} ")} == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
