"""Lint guard rail (issue 17, item 8): ruff is configured in pyproject.toml, pinned, effective, and
./scripts/run-tests.sh fails on a violation before running any test."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.servers import ROOT

RUFF = Path(sys.executable).parent / "ruff"
LINT_PATHS = ["aime", "tests", "bench", "migrations", "scripts", "wsgi.py", "gunicorn.conf.py"]


def _ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_pyproject_selects_the_agreed_rule_sets_at_120_columns_and_complexity_12():
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["line-length"] == 120
    assert ruff["target-version"] == "py311"
    assert sorted(ruff["lint"]["select"]) == ["B", "C90", "E", "F", "SIM", "UP", "W"]
    assert ruff["lint"]["mccabe"] == {"max-complexity": 12}
    assert "ignore" not in ruff["lint"] and "per-file-ignores" not in ruff["lint"]


def test_ruff_is_pinned_in_the_test_extras_and_the_constraints():
    extras = (ROOT / "setup.cfg").read_text().split("[options.extras_require]")[1].split("\n[")[0]
    assert "\n    ruff==0.17.6\n" in extras
    assert "ruff==0.17.6" in (ROOT / "constraints.txt").read_text().splitlines()
    assert _ruff("--version", cwd=ROOT).stdout.strip() == "ruff 0.17.6"


def test_run_tests_sh_lints_every_python_tree_before_pytest():
    script = (ROOT / "scripts" / "run-tests.sh").read_text()
    assert f"LINT_PATHS=({' '.join(LINT_PATHS)})" in script
    assert script.index('"$VENV/bin/ruff" check') < script.index('-m pytest "$@"')


# One violation of each selected rule set, and the limits exactly: a 120-character line and a function of
# complexity 12 pass, 121 characters and complexity 13 do not.
VIOLATIONS = '''\
import os
from typing import Callable

LIMIT = "{at_limit}"
OVER = "{over_limit}"


def pairs(a: list, b: list) -> list:
    return list(zip(a, b))


def simple(x: int) -> bool:
    if x > 1:
        return True
    else:
        return False


def fine(x: int) -> int:  # complexity 12
{twelve}
    return 0


def too_complex(x: int) -> int:  # complexity 13
{thirteen}
    return 0


def use(f: Callable) -> None:
    l = 1
    f(l){space}
'''


def _branches(count: int) -> str:
    return "\n".join(f"    if x == {n}:\n        return {n}" for n in range(count))


def test_the_configuration_catches_each_rule_set_at_the_agreed_limits(tmp_path):
    source = VIOLATIONS.format(at_limit="a" * (120 - len('LIMIT = ""')), over_limit="a" * (121 - len('OVER = ""')),
                               twelve=_branches(11), thirteen=_branches(12), space=" ")
    (tmp_path / "bad.py").write_text(source)
    result = _ruff("check", "--config", str(ROOT / "pyproject.toml"), "--output-format", "concise",
                   "--no-cache", "bad.py", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    found = sorted((int(line.split(":")[1]), line.split()[1]) for line in result.stdout.splitlines()
                   if line.startswith("bad.py:"))
    lines = source.splitlines()
    expected = sorted([
        (1, "F401"),                                                 # F: os unused
        (2, "UP035"),                                                # UP: typing.Callable
        (lines.index(f'OVER = "{"a" * 112}"') + 1, "E501"),          # E: 121 columns
        (lines.index("    return list(zip(a, b))") + 1, "B905"),     # B: zip without strict
        (lines.index("    if x > 1:") + 1, "SIM103"),                # SIM: return the condition
        (lines.index("def too_complex(x: int) -> int:  # complexity 13") + 1, "C901"),  # C90
        (lines.index("    l = 1") + 1, "E741"),                      # E: ambiguous name
        (lines.index("    f(l) ") + 1, "W291"),                      # W: trailing whitespace
    ])
    assert found == expected, result.stdout


@pytest.fixture
def copy_of_the_repo(tmp_path):
    """The repository's lint paths, dependency files and run-tests.sh, with a .venv that reuses this one's packages
    and is marked as installed (the script must not install anything)."""
    for name in ("setup.cfg", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run-tests.sh", tmp_path / "scripts" / "run-tests.sh")
    for name in LINT_PATHS:
        if name.endswith(".py"):
            (tmp_path / name).write_text('"""Empty."""\n')
        else:
            (tmp_path / name).mkdir(exist_ok=True)
    venv, real = tmp_path / ".venv", Path(sys.prefix)
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(Path(sys.executable))
    (venv / "bin" / "ruff").symlink_to(RUFF)
    (venv / "lib").symlink_to(real / "lib")
    shutil.copy(real / "pyvenv.cfg", venv / "pyvenv.cfg")
    deps = b"".join((tmp_path / name).read_bytes() for name in ("setup.cfg", "pyproject.toml", "constraints.txt"))
    (venv / ".aime-test-deps").write_text(hashlib.sha256(deps).hexdigest() + "\n")
    return tmp_path


def _run_tests(root: Path) -> subprocess.CompletedProcess:
    # PYTHONDONTWRITEBYTECODE as some shells and images set it (this machine's did): the script writes bytecode anyway.
    env = {**os.environ, "AIME_SKIP_POSTGRES": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    # The outer run's worker count (AIME_TEST_WORKERS=2 for a targeted run) would change the command it prints.
    env.pop("AIME_TEST_WORKERS", None)
    return subprocess.run(["bash", str(root / "scripts" / "run-tests.sh"), "--collect-only", "-q"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_run_tests_sh_stops_before_pytest_on_a_violation_and_says_how_to_fix_it(copy_of_the_repo):
    (copy_of_the_repo / "aime" / "bad.py").write_text("import os\n")
    result = _run_tests(copy_of_the_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "aime/bad.py:1:8: F401" in result.stdout
    assert ("[run-tests] LINT FAILED: ruff found the violations listed above. See them in context: "
            ".venv/bin/ruff check aime tests bench migrations scripts wsgi.py gunicorn.conf.py") in result.stdout
    assert "ruff check --fix" in result.stdout
    assert "running pytest" not in result.stdout

    (copy_of_the_repo / "aime" / "bad.py").write_text('"""Fixed."""\n')
    (copy_of_the_repo / "tests" / "conftest.py").write_text('"""Empty."""\n')
    result = _run_tests(copy_of_the_repo)
    assert "[run-tests] lint passed" in result.stdout
    assert "[run-tests] running pytest --collect-only -q" in result.stdout
    assert result.returncode == 5, result.stdout + result.stderr  # pytest ran and found no tests in the copy
    # pytest compiled the conftest it rewrote and kept it: the next process (worker, run) does not do it again.
    cached = [path.name for path in (copy_of_the_repo / "tests" / "__pycache__").glob("conftest.*.pyc")]
    assert len(cached) == 1 and "-pytest-" in cached[0], cached
