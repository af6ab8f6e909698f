"""The package builds without setuptools warnings and ships the web templates and static files (issue 14, 13)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.support.servers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_wheel_builds_without_ignored_package_warnings_and_carries_the_web_files(tmp_path):
    source = tmp_path / "src"  # a clean copy: no stale build/ directory can add or hide files
    shutil.copytree(ROOT / "aime", source / "aime", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-v",
                             "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "would be ignored" not in output and "is absent from the `packages` configuration" not in output
    (wheel,) = (tmp_path / "dist").glob("aime-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    web = ROOT / "aime" / "web"
    expected = {f"aime/web/{p.relative_to(web).as_posix()}" for folder in ("templates", "static")
                for p in (web / folder).iterdir() if p.is_file()}
    assert len(expected) == 27 and expected <= names  # 24 templates, 3 static files
    assert not [n for n in names if "__pycache__" in n]
