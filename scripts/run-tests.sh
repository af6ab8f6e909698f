#!/usr/bin/env bash
# Install everything the tests need (from nothing), lint, and run them.
#   ./scripts/run-tests.sh                 the whole suite, SQLite and (when reachable) PostgreSQL
#   ./scripts/run-tests.sh tests/api -x    any pytest arguments pass through
# Environment: AIME_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test),
#              AIME_SKIP_POSTGRES=1 to run on SQLite only, PYTHON (default python3.11 or python3),
#              AIME_TEST_WORKERS: pytest-xdist worker processes (default 2 for the whole suite, i.e. no
#              arguments, and 0 = one process, as plain pytest, when arguments are given); 0 turns xdist off.
#              The workers share the suite out as tests/conftest.py says (--dist loadgroup, long units first).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"

say() { printf '[run-tests] %s\n' "$*"; }

# Bytecode is written (into the git-ignored __pycache__ folders). With PYTHONDONTWRITEBYTECODE set (as in some
# shells and images: the Dockerfile sets it for the service) every one of the suite's Python processes compiles
# aime from source again, and each pytest worker re-rewrites the assertions of every test module: ~0.25 s of CPU
# per gunicorn master, worker or `flask` command the tests start, ~5 s per pytest worker at collection.
unset PYTHONDONTWRITEBYTECODE

"$PY" - <<'PYCHECK' || { say "Python >= 3.11 is required (found $("$PY" --version 2>&1)). Set PYTHON=/path/to/python3.11."; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PYCHECK

# 1. A virtualenv with the package and its test extras, reinstalled when the dependency files change.
deps_hash="$(cat setup.cfg pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating $VENV"
    "$PY" -m venv "$VENV"
fi
if [[ "$(cat "$VENV/.aime-test-deps" 2>/dev/null)" != "$deps_hash" ]]; then
    say "installing the package and test dependencies (pinned by constraints.txt)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[test]"
    echo "$deps_hash" > "$VENV/.aime-test-deps"
fi

# 2. Lint (rules in pyproject.toml [tool.ruff]); under a second, and a violation fails the run before any test.
LINT_PATHS=(aime tests bench migrations scripts wsgi.py gunicorn.conf.py)
if ! "$VENV/bin/ruff" check --quiet --output-format concise "${LINT_PATHS[@]}"; then
    say "LINT FAILED: ruff found the violations listed above. See them in context: .venv/bin/ruff check ${LINT_PATHS[*]}"
    say "fix the safe ones with: .venv/bin/ruff check --fix ${LINT_PATHS[*]} (then review the diff); the rest by hand"
    exit 1
fi
say "lint passed (ruff check ${LINT_PATHS[*]})"

# 3. System packages some tests drive for real (a browser for the web pages), when we may install them.
if [[ -x "$ROOT/scripts/install-test-system-deps.sh" ]]; then
    "$ROOT/scripts/install-test-system-deps.sh" || say "warning: system test dependencies could not be installed; those tests will skip"
fi

# 4. PostgreSQL: use it when it answers, say clearly when it does not.
export AIME_TEST_POSTGRES_URL="${AIME_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
if [[ "${AIME_SKIP_POSTGRES:-0}" == "1" ]]; then
    say "AIME_SKIP_POSTGRES=1: running on SQLite only"
    export AIME_TEST_POSTGRES_URL=""
elif "$VENV/bin/python" - "$AIME_TEST_POSTGRES_URL" <<'PGCHECK'; then
import sys
import sqlalchemy as sa
try:
    engine = sa.create_engine(sys.argv[1], connect_args={"connect_timeout": 3})
    with engine.connect() as conn:
        conn.exec_driver_sql("select 1")
except Exception as error:  # noqa: BLE001
    print(f"[run-tests] PostgreSQL is NOT reachable at {sys.argv[1]} ({type(error).__name__}); "
          "PostgreSQL tests will be SKIPPED. Start it, or set AIME_TEST_POSTGRES_URL.")
    sys.exit(1)
PGCHECK
    say "PostgreSQL found at $AIME_TEST_POSTGRES_URL: the suite runs on SQLite and PostgreSQL"
else
    export AIME_TEST_POSTGRES_URL=""
fi

# 5. The tests, in AIME_TEST_WORKERS pytest-xdist workers. Exit 5 (no tests collected) is a failure too.
if (($# == 0)); then workers="${AIME_TEST_WORKERS:-2}"; else workers="${AIME_TEST_WORKERS:-0}"; fi
if [[ ! "$workers" =~ ^[0-9]+$ ]]; then say "AIME_TEST_WORKERS must be a number of workers (0 = no xdist), not '$workers'"; exit 2; fi
xdist=()
if ((workers > 0)); then
    for arg in "$@"; do  # the caller chose the workers or the distribution themselves: leave them alone
        case "$arg" in -n|-n*|--numprocesses*|--dist*|-d|-pno:xdist|no:xdist) workers=0 ;; esac
    done
    ((workers > 0)) && xdist=(-n "$workers" --dist loadgroup)
fi
set -- "${xdist[@]}" "$@"
say "running pytest $*"
exec "$VENV/bin/python" -m pytest "$@"
