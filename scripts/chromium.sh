#!/usr/bin/env bash
# Installs Chromium from Debian's packages when it is missing (the headless browser test of the
# incident report, e2e/test_report.py, needs it). Prints the browser's path.
set -euo pipefail
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then command -v "$b"; exit 0; fi
done
echo "installing chromium from Debian's packages..." >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >&2
command -v chromium
