#!/usr/bin/env bash
# Ask a running AIME whether it is healthy, ready or alive, with retries and exponential backoff.
# Exit codes: 0 healthy/ready/alive, 1 answered unhealthy/not ready, 2 unreachable or bad usage.
set -uo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/health-check-robust.sh health|ready|live [--url URL] [--retries N] [--timeout S] [--quiet]

  health|ready|live  which probe to ask: /health (full picture), /ready (may take traffic), /live
  --url URL          base URL of AIME [$AIME_URL, else http://<AIME_BIND>, else http://127.0.0.1:8000]
  --retries N        attempts after the first one when the answer is not good [3]
  --timeout S        seconds allowed for each attempt [5]
  --quiet            no summary line, only the exit code

Between attempts it waits 1 s, 2 s, 4 s ... (AIME_HEALTH_BACKOFF sets the first delay).
Prints one line: the probe, its status, and for /health the error rate, database and uptime.
Parses the JSON body (with jq when installed, otherwise with sed), not only the HTTP code.

Exit codes: 0 healthy (or degraded) / ready / alive; 1 answered unhealthy / not ready;
2 not reachable after every attempt, or bad usage.
EOF
}

PROBE="" URL="" RETRIES=3 TIMEOUT=5 QUIET=0
while (($#)); do
  case "$1" in
    health|ready|live) PROBE="$1" ;;
    --url) URL="${2:-}"; shift ;;
    --url=*) URL="${1#*=}" ;;
    --retries) RETRIES="${2:-}"; shift ;;
    --retries=*) RETRIES="${1#*=}" ;;
    --timeout) TIMEOUT="${2:-}"; shift ;;
    --timeout=*) TIMEOUT="${1#*=}" ;;
    --quiet|-q) QUIET=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "health-check-robust.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

bad_usage() { echo "health-check-robust.sh: $1 (see --help)" >&2; exit 2; }
[[ -n "$PROBE" ]] || bad_usage "say which probe: health, ready or live"
[[ "$RETRIES" =~ ^[0-9]+$ ]] || bad_usage "--retries must be a whole number, got '$RETRIES'"
[[ "$TIMEOUT" =~ ^[0-9]+([.][0-9]+)?$ && "$TIMEOUT" != 0 ]] || bad_usage "--timeout must be a positive number of seconds, got '$TIMEOUT'"
command -v curl >/dev/null || bad_usage "curl is required"
if [[ -z "$URL" ]]; then
  if [[ -n "${AIME_URL:-}" ]]; then URL="$AIME_URL"
  elif [[ -n "${AIME_BIND:-}" && "$AIME_BIND" != unix:* ]]; then
    host="${AIME_BIND%:*}"; [[ "$host" == 0.0.0.0 || -z "$host" ]] && host=127.0.0.1
    URL="http://$host:${AIME_BIND##*:}"
  else URL="http://127.0.0.1:8000"; fi
fi
URL="${URL%/}"
BACKOFF="${AIME_HEALTH_BACKOFF:-1}"

# field NAME: a top-level scalar of the JSON body (jq when present; sed is enough for our flat keys).
field() {
  if command -v jq >/dev/null; then
    jq -r --arg k "$1" 'if type == "object" and has($k) then (.[$k] | if type == "object" then (.status // .state // "?") else . end | tostring) else empty end' <<<"$BODY" 2>/dev/null
  else
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" <<<"$BODY" | head -n 1
  fi
}

# verdict: 0 good, 1 answered bad, 2 no usable answer. Sets SUMMARY.
judge() {
  local status
  if [[ "$CODE" == 000 || -z "$CODE" ]]; then SUMMARY="$PROBE: unreachable at $URL/$PROBE"; return 2; fi
  case "$PROBE" in
    health)
      local rate database uptime
      status="$(field status)"; rate="$(field error_rate)"; database="$(field database)"; uptime="$(field uptime_seconds)"
      SUMMARY="health: ${status:-unknown} (HTTP $CODE), error rate ${rate:-?}, database ${database:-?}, uptime ${uptime:-?}s"
      if [[ "$CODE" == 200 && ( "$status" == healthy || "$status" == degraded ) ]]; then return 0; fi
      [[ -n "$status" || "$CODE" == 503 ]] && return 1
      SUMMARY="health: unexpected answer HTTP $CODE from $URL/health"; return 2 ;;
    ready)
      status="$(field ready)"
      if [[ "$CODE" == 200 && "$status" == true ]]; then SUMMARY="ready: yes (HTTP 200)"; return 0; fi
      if [[ "$status" == false || "$CODE" == 503 ]]; then
        local reasons=""
        command -v jq >/dev/null && reasons="$(jq -r '(.reasons // []) | join("; ")' <<<"$BODY" 2>/dev/null)"
        SUMMARY="ready: no (HTTP $CODE)${reasons:+: $reasons}"; return 1
      fi
      SUMMARY="ready: unexpected answer HTTP $CODE from $URL/ready"; return 2 ;;
    live)
      status="$(field alive)"
      if [[ "$CODE" == 200 && "$status" == true ]]; then SUMMARY="live: yes (HTTP 200)"; return 0; fi
      SUMMARY="live: no (HTTP $CODE)"; [[ "$CODE" =~ ^[0-9]+$ && "$CODE" != 404 ]] && return 1; return 2 ;;
  esac
}

attempt=0
while true; do
  OUT="$(curl -s -m "$TIMEOUT" -H 'Accept: application/json' -w $'\n%{http_code}' "$URL/$PROBE" 2>/dev/null)"
  CODE="${OUT##*$'\n'}"; BODY="${OUT%$'\n'*}"
  judge; verdict=$?
  ((verdict == 0 || attempt >= RETRIES)) && break
  delay="$(awk -v b="$BACKOFF" -v n="$attempt" 'BEGIN { print b * 2 ^ n }')"
  ((QUIET)) || echo "$SUMMARY; retrying in ${delay}s ($((attempt + 1))/$RETRIES)" >&2
  sleep "$delay"
  attempt=$((attempt + 1))
done
((QUIET)) || echo "$SUMMARY"
exit "$verdict"
