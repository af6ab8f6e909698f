"""`flask db upgrade` on a fresh install creates the data directory on first connect."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_upgrade_creates_a_missing_data_directory(tmp_path):
    data = tmp_path / "not" / "there" / "yet"
    env = {**os.environ, "AIME_DATA_DIR": str(data), "AIME_API_TOKEN": "x" * 20}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "aime", "db", "upgrade"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (data / "musique.db").is_file()
