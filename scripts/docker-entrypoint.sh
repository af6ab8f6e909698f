#!/usr/bin/env bash
# Container entrypoint (also run as is by tests/ops outside Docker): migrations (retried while the
# database comes up), startup validation, then exec the command (the image's CMD is
# `gunicorn -c gunicorn.conf.py wsgi:app`), so gunicorn is PID 1 and receives SIGTERM directly.
#
#   docker-entrypoint.sh migrate          only run the migrations (the compose `init-db` service)
#   docker-entrypoint.sh validate         only run the startup validation
#   docker-entrypoint.sh CMD [ARGS...]    migrate, validate, then exec CMD
#
# Environment: AIME_DB_WAIT (seconds to keep retrying migrations while the database is unreachable,
# default 60), AIME_MIGRATE_ON_START (0 = skip migrations before CMD, when an init job runs them;
# default 1), AIME_DATA_DIR, PROMETHEUS_MULTIPROC_DIR, PYTHON (default: python on PATH).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
PYTHON="${PYTHON:-python}"
DB_WAIT="${AIME_DB_WAIT:-60}"

json_escape() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; printf '%s' "${s//$'\t'/\\t}"; }
# Same shape as the service's own JSON log lines, so `docker logs` stays one JSON object per line.
log() {
  printf '{"timestamp": "%s", "level": "%s", "logger": "aime.entrypoint", "message": "%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%S+0000)" "$1" "$(json_escape "$2")"
}

[[ "$DB_WAIT" =~ ^[0-9]+$ ]] || { log ERROR "AIME_DB_WAIT must be a whole number of seconds, got '$DB_WAIT'"; exit 2; }
mkdir -p "${AIME_DATA_DIR:-./data}" || { log ERROR "cannot create AIME_DATA_DIR=${AIME_DATA_DIR:-./data}"; exit 1; }
[[ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]] && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

migrate() {  # retried with exponential backoff: a server database may start after us
  local started=$SECONDS delay=1 output
  while true; do
    if output="$("$PYTHON" -m flask --app aime db upgrade 2>&1)"; then
      log INFO "database migrations applied"
      return 0
    fi
    if ((SECONDS - started + delay > DB_WAIT)); then
      log ERROR "database migrations failed after $((SECONDS - started))s: $(tail -n 3 <<<"$output")"
      printf '%s\n' "$output" >&2
      return 1
    fi
    log WARNING "database not ready for migrations, retrying in ${delay}s: $(tail -n 1 <<<"$output")"
    sleep "$delay"
    delay=$((delay * 2 > 10 ? 10 : delay * 2))
  done
}

validate() {
  local output
  if output="$("$PYTHON" -m flask --app aime validate 2>&1)"; then
    log INFO "startup validation passed"
    return 0
  fi
  if grep -q "No such command 'validate'" <<<"$output"; then
    log INFO "startup validation not available in this version: skipped"
    return 0
  fi
  log ERROR "startup validation failed: $output"
  return 1
}

case "${1:-}" in
  migrate) migrate; exit $? ;;
  validate) validate; exit $? ;;
  "") log ERROR "no command given (the image's CMD is: gunicorn -c gunicorn.conf.py wsgi:app)"; exit 2 ;;
esac

if [[ "${AIME_MIGRATE_ON_START:-1}" != 0 ]]; then migrate || exit 1; fi
validate || exit 1
log INFO "starting: $*"
exec "$@"
