#!/usr/bin/env bash
# System packages that some tests drive for real: Debian's Chromium for the browser tests of the web pages,
# nginx for the two-instance benchmark's smoke test (tests/bench/test_scale_smoke.py, bench/scale.py).
# Installs only what is missing, only when it can (root with apt-get); otherwise those tests skip with a reason.
set -euo pipefail

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
if ((${#missing[@]} == 0)); then
    exit 0
fi
if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[run-tests] ${missing[*]} absent and cannot be installed here (needs root + apt-get);" \
         "the browser tests (chromium) and the two-instance benchmark test (nginx) will skip"
    exit 0
fi
echo "[run-tests] installing Debian's ${missing[*]} for the browser tests and the two-instance benchmark test"
apt-get update -qq
# nginx is only run by bench/scale.py as its own child (own prefix, pid and logs under a temp dir): the
# package's own service is not needed, and in a container without an init system it is not started at all.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
