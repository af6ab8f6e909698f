#!/usr/bin/env bash
# System packages that some tests drive for real: Debian's Chromium for the browser tests of the web pages.
# Installs only what is missing, only when it can (root with apt-get); otherwise those tests skip with a reason.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi
if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[run-tests] /usr/bin/chromium is absent and cannot be installed here (needs root + apt-get); browser tests will skip"
    exit 0
fi
echo "[run-tests] installing Debian's chromium for the browser tests"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
