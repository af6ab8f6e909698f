#!/usr/bin/env bash
# Install (when needed), check, migrate, validate, start and supervise AIME under gunicorn.
# Run `scripts/start-services.sh --help` for every option and environment variable.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER_DIR="$(pwd)"

usage() {
  cat <<'EOF'
Usage: scripts/start-services.sh [OPTIONS]

Checks prerequisites, creates the directories, creates .venv and installs AIME when missing or
when setup.cfg/pyproject.toml/constraints.txt changed, runs `flask db upgrade` and the startup
validation, starts gunicorn (gunicorn.conf.py, wsgi:app), waits for /ready and then watches
/health, restarting gunicorn with backoff when it dies or stays unhealthy.

Options:
  (none)          start and supervise in this terminal; Ctrl+C or SIGTERM stops gracefully (exit 0)
  --once          start, wait until /ready, print where things are and exit, leaving gunicorn
                  running unsupervised (stop it with --stop)
  --foreground    prepare (checks, install, migrations, validation), then exec gunicorn in place
                  of this script: for containers and process managers that supervise themselves
  --stop          stop the instance using AIME_DATA_DIR (supervised or --once), gracefully
  --no-install    do not create .venv or run pip: use AIME_VENV if it has bin/python, else python3
  -h, --help      this text

Environment (defaults in brackets):
  AIME_BIND               host:port gunicorn listens on [127.0.0.1:8000]
  AIME_DATA_DIR           data directory: database, api_token, pid/lock files [./data]
  DATABASE_URL            database URL [sqlite:///<AIME_DATA_DIR>/musique.db]
  AIME_API_TOKEN          API token; when unset one is generated into <AIME_DATA_DIR>/api_token
  AIME_LOG_FILE           where gunicorn and this script log (JSON lines) [/tmp/aime_backend.log]
  AIME_LOG_MAX_MB         rotate the log file beyond this size [10]
  AIME_LOG_BACKUPS        rotated files kept (.1 .. .N) [3]
  PROMETHEUS_MULTIPROC_DIR  metrics directory shared by the workers [<AIME_DATA_DIR>/metrics]
  AIME_VENV               virtualenv to create/use [<repo>/.venv]
  AIME_PYTHON             Python (>= 3.11) used to create the virtualenv [python3.13/3.12/3.11/python3]
  AIME_MONITOR_INTERVAL   seconds between /health polls [30]
  AIME_HEALTH_FAILURES    consecutive failed polls before a restart [3]
  AIME_MAX_RESTARTS       failed restarts in a row before giving up [3]
  AIME_RESTART_BACKOFF    first restart delay in seconds, doubled on each failed attempt [2]
  AIME_READY_TIMEOUT      seconds to wait for /ready after starting gunicorn [60]
  AIME_PORT_WAIT          seconds to wait for the port to become free before a (re)start [10]
  AIME_GRACEFUL_TIMEOUT   seconds gunicorn gets to drain on stop (also read by gunicorn) [30]
  AIME_DISK_MIN_FREE_MB   free space required in the data directory [500]
  NO_COLOR                set to anything to disable colours (colours are only used on a TTY)

Files: <AIME_DATA_DIR>/aime.lock (held while supervising), aime.pid (supervisor pid, or gunicorn's
with --once), gunicorn.pid (the current gunicorn master).

Exit codes: 0 stopped cleanly or ready (--once); 1 a prerequisite, step or restart failed;
2 bad usage or already running.
EOF
}

MODE=supervise
INSTALL=1
for arg in "$@"; do
  case "$arg" in
    --once) MODE=once ;;
    --foreground) MODE=foreground ;;
    --stop) MODE=stop ;;
    --no-install) INSTALL=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "start-services.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

# ---------------------------------------------------------------- settings
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$CALLER_DIR/$1" ;; esac; }

export AIME_DATA_DIR="$(abspath "${AIME_DATA_DIR:-$ROOT/data}")"
export AIME_BIND="${AIME_BIND:-127.0.0.1:8000}"
export AIME_LOG_FILE="$(abspath "${AIME_LOG_FILE:-/tmp/aime_backend.log}")"
export PROMETHEUS_MULTIPROC_DIR="$(abspath "${PROMETHEUS_MULTIPROC_DIR:-$AIME_DATA_DIR/metrics}")"
VENV="$(abspath "${AIME_VENV:-$ROOT/.venv}")"
LOG_MAX_MB="${AIME_LOG_MAX_MB:-10}"
LOG_BACKUPS="${AIME_LOG_BACKUPS:-3}"
MONITOR_INTERVAL="${AIME_MONITOR_INTERVAL:-30}"
HEALTH_FAILURES="${AIME_HEALTH_FAILURES:-3}"
MAX_RESTARTS="${AIME_MAX_RESTARTS:-3}"
RESTART_BACKOFF="${AIME_RESTART_BACKOFF:-2}"
READY_TIMEOUT="${AIME_READY_TIMEOUT:-60}"
PORT_WAIT="${AIME_PORT_WAIT:-10}"
GRACEFUL_TIMEOUT="${AIME_GRACEFUL_TIMEOUT:-30}"
DISK_MIN_FREE_MB="${AIME_DISK_MIN_FREE_MB:-500}"
for var in LOG_MAX_MB LOG_BACKUPS HEALTH_FAILURES MAX_RESTARTS READY_TIMEOUT GRACEFUL_TIMEOUT DISK_MIN_FREE_MB; do
  [[ "${!var}" =~ ^[0-9]+$ ]] || { echo "start-services.sh: AIME_${var} must be a whole number, got '${!var}' (see --help)" >&2; exit 2; }
done
for var in MONITOR_INTERVAL RESTART_BACKOFF PORT_WAIT; do
  [[ "${!var}" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "start-services.sh: AIME_${var} must be a number of seconds, got '${!var}' (see --help)" >&2; exit 2; }
done
LOCK_FILE="$AIME_DATA_DIR/aime.lock"
PID_FILE="$AIME_DATA_DIR/aime.pid"
GUNICORN_PID_FILE="$AIME_DATA_DIR/gunicorn.pid"

# ---------------------------------------------------------------- output
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  C_OK=$'\e[32m'; C_WARN=$'\e[33m'; C_ERR=$'\e[31m'; C_DIM=$'\e[2m'; C_OFF=$'\e[0m'
else
  C_OK=; C_WARN=; C_ERR=; C_DIM=; C_OFF=
fi

json_escape() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; printf '%s' "${s//$'\t'/\\t}"; }

# The log file holds JSON lines only, so our own events are JSON too.
log_json() {
  [[ -d "$(dirname "$AIME_LOG_FILE")" ]] || return 0
  printf '{"timestamp": "%s", "level": "%s", "logger": "aime.supervisor", "message": "%s", "pid": %d}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%S+0000)" "$1" "$(json_escape "$2")" "$$" >>"$AIME_LOG_FILE" 2>/dev/null || true
}
info() { printf '%s[aime]%s %s\n' "$C_DIM" "$C_OFF" "$1"; log_json INFO "$1"; }
ok()   { printf '%s[aime] ✔ %s%s\n' "$C_OK" "$1" "$C_OFF"; log_json INFO "$1"; }
warn() { printf '%s[aime] ! %s%s\n' "$C_WARN" "$1" "$C_OFF"; log_json WARNING "$1"; }
err()  { printf '%s[aime] ✘ %s%s\n' "$C_ERR" "$1" "$C_OFF" >&2; log_json ERROR "$1"; }
die()  {  # die MESSAGE [FIX] [EXIT_CODE]
  err "$1"; [[ -n "${2:-}" ]] && printf '       fix: %s\n' "$2" >&2
  [[ -f "${PID_FILE:-}" && "$(tr -dc '0-9' <"$PID_FILE")" == "$$" ]] && rm -f "$PID_FILE"
  exit "${3:-1}"
}

# ---------------------------------------------------------------- processes
alive() {  # running and not a zombie waiting to be reaped
  local pid="$1" state
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ "$state" != Z ]]
}

is_gunicorn() { alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q gunicorn; }

pid_from() { [[ -f "$1" ]] && tr -dc '0-9' <"$1"; }

wait_gone() {  # wait_gone PID SECONDS -> 0 when the process is gone in time
  local pid="$1" deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------- --stop
stop_instance() {
  local pid target=""
  pid="$(pid_from "$PID_FILE")"
  if [[ -n "$pid" ]] && alive "$pid"; then target="$pid"
  else
    pid="$(pid_from "$GUNICORN_PID_FILE")"
    if [[ -n "$pid" ]] && is_gunicorn "$pid"; then target="$pid"; fi
  fi
  if [[ -z "$target" ]]; then info "AIME is not running (data directory $AIME_DATA_DIR)"; return 0; fi
  info "stopping AIME (pid $target), waiting up to $((GRACEFUL_TIMEOUT + 10))s"
  kill -TERM "$target" 2>/dev/null
  if wait_gone "$target" $((GRACEFUL_TIMEOUT + 10)); then
    rm -f "$PID_FILE" "$GUNICORN_PID_FILE"; ok "stopped"; return 0
  fi
  err "pid $target did not stop within $((GRACEFUL_TIMEOUT + 10))s"; return 1
}

if [[ "$MODE" == stop ]]; then stop_instance; exit $?; fi

# ---------------------------------------------------------------- prerequisites
HOST="${AIME_BIND%:*}"; PORT="${AIME_BIND##*:}"
[[ "$AIME_BIND" == unix:* ]] && die "AIME_BIND=$AIME_BIND: this script supervises over HTTP and needs host:port" \
  "use AIME_BIND=127.0.0.1:8000 (or run gunicorn yourself for a unix socket)"
[[ "$PORT" =~ ^[0-9]+$ && "$PORT" -gt 0 && "$PORT" -lt 65536 ]] || \
  die "AIME_BIND=$AIME_BIND has no valid port" "use host:port, e.g. AIME_BIND=127.0.0.1:8000"
case "$HOST" in ""|0.0.0.0|"[::]"|"::") PROBE_HOST=127.0.0.1 ;; *) PROBE_HOST="${HOST#[}"; PROBE_HOST="${PROBE_HOST%]}" ;; esac
case "$PROBE_HOST" in *:*) URL="http://[$PROBE_HOST]:$PORT" ;; *) URL="http://$PROBE_HOST:$PORT" ;; esac

command -v curl >/dev/null || die "curl is not installed (the health checks use it)" "install it: sudo apt-get install curl"
command -v flock >/dev/null || die "flock is not installed (used for the single-instance lock)" "install util-linux"

mkdir -p "$AIME_DATA_DIR" 2>/dev/null || die "cannot create the data directory $AIME_DATA_DIR" \
  "create it and give $(id -un) write access, or set AIME_DATA_DIR to a writable directory"
probe="$AIME_DATA_DIR/.write-test.$$"
if ! ( : >"$probe" ) 2>/dev/null; then
  die "the data directory $AIME_DATA_DIR is not writable by $(id -un)" \
    "sudo chown -R $(id -un) '$AIME_DATA_DIR', or set AIME_DATA_DIR to a writable directory"
fi
rm -f "$probe"

free_mb=$(( $(df -Pk "$AIME_DATA_DIR" | awk 'NR==2 {print $4}') / 1024 ))
((free_mb >= DISK_MIN_FREE_MB)) || die "only ${free_mb} MB free in $AIME_DATA_DIR (needs ${DISK_MIN_FREE_MB} MB)" \
  "free some space, point AIME_DATA_DIR at a larger disk, or lower AIME_DISK_MIN_FREE_MB"

# One instance per data directory: the lock is held for the supervisor's whole life and released
# by the kernel when it dies, so a pid file left by a crash can never block a start.
exec 9>>"$LOCK_FILE"
if ! flock -n 9; then
  die "AIME is already running for $AIME_DATA_DIR (pid $(pid_from "$PID_FILE" || echo unknown))" \
    "stop it with: scripts/start-services.sh --stop   (or Ctrl+C in its terminal)" 2; fi
old="$(pid_from "$GUNICORN_PID_FILE")"
if [[ -n "$old" ]] && is_gunicorn "$old"; then
  die "AIME is already running for $AIME_DATA_DIR (gunicorn pid $old, started with --once)" \
    "stop it with: scripts/start-services.sh --stop" 2
fi
if [[ -f "$PID_FILE" || -f "$GUNICORN_PID_FILE" ]]; then
  info "removing stale pid files left by an earlier run"; rm -f "$PID_FILE" "$GUNICORN_PID_FILE"
fi

port_in_use() { (exec 3<>"/dev/tcp/$PROBE_HOST/$PORT") 2>/dev/null; }

wait_port_free() {  # the port of a crashed master may be held a moment by its exiting workers
  local ticks
  ticks="$(awk -v s="$PORT_WAIT" 'BEGIN { printf "%d", s * 5 + 0.999 }')"
  while port_in_use; do
    ((ticks-- <= 0)) && return 1
    sleep 0.2
  done
}

PORT_FIX="stop what listens there (see: ss -ltnp 'sport = :$PORT') or choose another port, e.g. AIME_BIND=$PROBE_HOST:$((PORT + 1))"
port_in_use && die "port $PORT on $PROBE_HOST is already in use by another process" "$PORT_FIX"

mkdir -p "$(dirname "$AIME_LOG_FILE")" "$PROMETHEUS_MULTIPROC_DIR" || \
  die "cannot create $(dirname "$AIME_LOG_FILE") or $PROMETHEUS_MULTIPROC_DIR" "check permissions or change AIME_LOG_FILE"
if [[ "$MODE" == supervise ]]; then echo $$ >"$PID_FILE"; fi

# ---------------------------------------------------------------- python, venv, install
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

find_python() {
  local candidate
  for candidate in ${AIME_PYTHON:-python3.13 python3.12 python3.11 python3}; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then command -v "$candidate"; return 0; fi
  done
  return 1
}

install_hash() { cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" "$ROOT/constraints.txt" 2>/dev/null | sha256sum | cut -d' ' -f1; }

if ((INSTALL)); then
  if [[ ! -x "$VENV/bin/python" ]] || ! python_ok "$VENV/bin/python"; then
    base="$(find_python)" || die "Python >= 3.11 is required; found: $(python3 --version 2>&1 || echo none)" \
      "install Python 3.11+ (e.g. sudo apt-get install python3.11 python3.11-venv) or set AIME_PYTHON"
    info "creating the virtualenv $VENV with $("$base" --version 2>&1)"
    "$base" -m venv "$VENV" || die "could not create $VENV" "install the venv module (e.g. sudo apt-get install python3-venv)"
  fi
  PY="$VENV/bin/python"
  want="$(install_hash)"
  if [[ "$(cat "$VENV/.aime-install-hash" 2>/dev/null)" != "$want" ]]; then
    install_log="$(dirname "$AIME_LOG_FILE")/aime_install.log"
    constraint=(); [[ -f "$ROOT/constraints.txt" ]] && constraint=(-c "$ROOT/constraints.txt")
    info "installing AIME and its dependencies into $VENV (output: $install_log)"
    if ! "$PY" -m pip install --disable-pip-version-check -e "$ROOT" "${constraint[@]}" >"$install_log" 2>&1; then
      tail -n 20 "$install_log" >&2
      die "pip install failed (full output in $install_log)" "check the network access to PyPI, then run this script again"
    fi
    echo "$want" >"$VENV/.aime-install-hash"
    ok "dependencies installed"
  fi
else
  if [[ -x "$VENV/bin/python" ]]; then PY="$VENV/bin/python"; else PY="$(find_python)" || die "no Python >= 3.11 found" "set AIME_PYTHON or AIME_VENV"; fi
fi
python_ok "$PY" || die "$PY is older than Python 3.11" "remove $VENV and run again with AIME_PYTHON=python3.11"
# Installed? Finding the packages costs a bare interpreter start; importing them (~1 s of CPU) is left to the
# failure path below, where a migration that cannot import them says so in the same words.
NOT_INSTALLED=("AIME is not installed for $PY" "run without --no-install, or: $PY -m pip install -e '$ROOT'")
"$PY" -c 'import sys; from importlib.util import find_spec
sys.exit(any(find_spec(name) is None for name in ("aime", "gunicorn", "flask")))' 2>/dev/null || die "${NOT_INSTALLED[@]}"

cd "$ROOT" || exit 1
FLASK=("$PY" -m flask --app aime)
GUNICORN=("$PY" -m gunicorn -c "$ROOT/gunicorn.conf.py" wsgi:app)

# ---------------------------------------------------------------- migrations, validation, token
step_output="$(mktemp)"
trap 'rm -f "$step_output"' EXIT
info "running database migrations (flask db upgrade)"
if ! "${FLASK[@]}" db upgrade >"$step_output" 2>&1; then
  tail -n 20 "$step_output" >&2
  if grep -qE "ModuleNotFoundError|ImportError|No module named|Could not import" "$step_output"; then
    (cd "$CALLER_DIR" && "$PY" -c 'import aime, gunicorn, flask') 2>/dev/null || die "${NOT_INSTALLED[@]}"
  fi
  die "database migrations failed" "check DATABASE_URL and that the database server is reachable"
fi
if "${FLASK[@]}" validate >"$step_output" 2>&1; then
  ok "startup validation passed"
elif grep -q "No such command 'validate'" "$step_output"; then
  info "startup validation not available in this version: skipped"
else
  cat "$step_output" >&2
  die "startup validation failed (see the ✘/❌ lines above)" "fix each failing item, then start again"
fi
if [[ -z "${AIME_API_TOKEN:-}" && ! -s "$AIME_DATA_DIR/api_token" ]]; then
  "${FLASK[@]}" token >/dev/null 2>&1 || warn "could not generate the API token now; the service will on first use"
fi
TOKEN_WHERE="$AIME_DATA_DIR/api_token (print it with: $PY -m flask --app aime token)"
[[ -n "${AIME_API_TOKEN:-}" ]] && TOKEN_WHERE="AIME_API_TOKEN is set (environment)"

if [[ "$MODE" == foreground ]]; then
  info "exec gunicorn on $URL (logs on stdout/stderr)"
  # exec keeps this pid (and the lock on fd 9): gunicorn's master is the pid written here.
  echo $$ >"$PID_FILE"; echo $$ >"$GUNICORN_PID_FILE"
  exec "${GUNICORN[@]}"
fi

# ---------------------------------------------------------------- log rotation
rotate_log() {  # copy-truncate: gunicorn appends (O_APPEND), so it keeps writing at the new end
  local size i
  size=$(stat -c %s "$AIME_LOG_FILE" 2>/dev/null || echo 0)
  ((size > LOG_MAX_MB * 1024 * 1024)) || return 0
  for ((i = LOG_BACKUPS - 1; i >= 1; i--)); do
    [[ -f "$AIME_LOG_FILE.$i" ]] && mv -f "$AIME_LOG_FILE.$i" "$AIME_LOG_FILE.$((i + 1))"
  done
  cp "$AIME_LOG_FILE" "$AIME_LOG_FILE.1" && : >"$AIME_LOG_FILE"
}

# ---------------------------------------------------------------- gunicorn lifecycle
GPID=""

start_gunicorn() {
  rotate_log
  if ! wait_port_free; then err "port $PORT is still in use: cannot start gunicorn"; return 1; fi
  # Own session: Ctrl+C reaches only this script, which then stops gunicorn gracefully (SIGTERM);
  # fd 9 (the lock) stays with the supervisor.
  setsid "${GUNICORN[@]}" </dev/null >>"$AIME_LOG_FILE" 2>&1 9>&- &
  GPID=$!
  echo "$GPID" >"$GUNICORN_PID_FILE"
  info "gunicorn master started (pid $GPID), waiting for $URL/ready (up to ${READY_TIMEOUT}s)"
  local deadline=$((SECONDS + READY_TIMEOUT)) code
  while ((SECONDS < deadline)); do
    if ! alive "$GPID"; then wait "$GPID" 2>/dev/null; err "gunicorn exited during start-up (exit code $?)"; return 1; fi
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/ready" 2>/dev/null)"
    [[ "$code" == 200 ]] && return 0
    sleep 0.3
  done
  err "gunicorn did not become ready within ${READY_TIMEOUT}s (last /ready answer: ${code:-none})"
  return 1
}

stop_gunicorn() {
  [[ -z "$GPID" ]] && return 0
  if alive "$GPID"; then
    info "stopping gunicorn (pid $GPID) gracefully, up to ${GRACEFUL_TIMEOUT}s"
    kill -TERM "$GPID" 2>/dev/null
    if ! wait_gone "$GPID" $((GRACEFUL_TIMEOUT + 5)); then
      err "gunicorn did not stop within $((GRACEFUL_TIMEOUT + 5))s: killing its process group"
      kill -KILL -- "-$GPID" 2>/dev/null
    fi
  fi
  wait "$GPID" 2>/dev/null
  # Workers orphaned by a master that was killed outright: ask them to finish (same session/group).
  if kill -0 -- "-$GPID" 2>/dev/null; then
    kill -TERM -- "-$GPID" 2>/dev/null
    local deadline=$((SECONDS + GRACEFUL_TIMEOUT))
    while kill -0 -- "-$GPID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  rm -f "$GUNICORN_PID_FILE"
  GPID=""
}

tail_log() { printf '%s--- last lines of %s ---%s\n' "$C_DIM" "$AIME_LOG_FILE" "$C_OFF" >&2; tail -n "${1:-30}" "$AIME_LOG_FILE" >&2; }

print_ready() {
  ok "AIME is ready at $URL"
  printf '       API token: %s\n' "$TOKEN_WHERE"
  printf '       log file:  %s (rotated at %s MB, %s kept)\n' "$AIME_LOG_FILE" "$LOG_MAX_MB" "$LOG_BACKUPS"
}

if [[ "$MODE" == once ]]; then
  if ! start_gunicorn; then stop_gunicorn; tail_log; exit 1; fi
  echo "$GPID" >"$PID_FILE"
  print_ready
  printf '       running unsupervised (gunicorn pid %s); stop it with: scripts/start-services.sh --stop\n' "$GPID"
  exit 0
fi

# ---------------------------------------------------------------- supervision
SLEEP_PID=""
on_signal() {
  trap '' INT TERM
  [[ -n "$SLEEP_PID" ]] && kill "$SLEEP_PID" 2>/dev/null
  printf '\n'; info "stop requested"
  stop_gunicorn
  rm -f "$PID_FILE" "$step_output"
  ok "AIME stopped"
  exit 0
}
trap on_signal INT TERM

pause() { sleep "$1" & SLEEP_PID=$!; wait "$SLEEP_PID" 2>/dev/null; SLEEP_PID=""; }

restart_with_backoff() {  # returns 0 once gunicorn is ready again, 1 after MAX_RESTARTS failures
  local attempt delay
  for ((attempt = 1; attempt <= MAX_RESTARTS; attempt++)); do
    delay="$(awk -v b="$RESTART_BACKOFF" -v n="$attempt" 'BEGIN { print b * 2 ^ (n - 1) }')"
    warn "restarting gunicorn in ${delay}s (attempt $attempt of $MAX_RESTARTS)"
    pause "$delay"
    stop_gunicorn
    if start_gunicorn; then ok "gunicorn restarted and ready (pid $GPID)"; return 0; fi
    err "restart attempt $attempt failed"
    stop_gunicorn
  done
  return 1
}

give_up() {
  err "gave up after $MAX_RESTARTS failed restarts in a row"
  tail_log 30
  rm -f "$PID_FILE"
  exit 1
}

if ! start_gunicorn; then
  stop_gunicorn; tail_log 30; rm -f "$PID_FILE"
  die "AIME did not start" "read the log lines above ($AIME_LOG_FILE), fix the cause and start again"
fi
print_ready
info "watching $URL/health every ${MONITOR_INTERVAL}s; Ctrl+C stops"

failures=0
while true; do
  pause "$MONITOR_INTERVAL"
  rotate_log
  if ! alive "$GPID"; then
    wait "$GPID" 2>/dev/null; rc=$?
    err "gunicorn (pid $GPID) died (exit code $rc)"
    restart_with_backoff || give_up
    failures=0; continue
  fi
  code="$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$URL/health" 2>/dev/null)"
  if [[ "$code" == 200 ]]; then
    ((failures > 0)) && ok "/health is back to 200"
    failures=0; continue
  fi
  failures=$((failures + 1))
  [[ "$code" == 000 ]] && code="no answer"
  warn "/health answered ${code:-no answer} ($failures of $HEALTH_FAILURES before a restart)"
  if ((failures >= HEALTH_FAILURES)); then
    restart_with_backoff || give_up
    failures=0
  fi
done
