#!/usr/bin/env bash
# Install the project-local Node tools from their lock files (npm ci: exactly the pinned versions).
#   scripts/node.sh iam-simulate   # tools/iam-simulate/node_modules: @cloud-copilot/iam-simulate,
#                                   # the IAM evaluator e2e/test_iam_simulate.py drives (tests only)
# Re-running is cheap: node_modules is rebuilt only when package-lock.json changed.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
iam-simulate)
  dir=tools/iam-simulate
  command -v npm >/dev/null || { echo "node.sh: Node.js 18+ and npm are needed (apt-get install nodejs npm)" >&2; exit 1; }
  stamp="$dir/node_modules/.lock.sha256"
  if [ -f "$stamp" ] && (cd "$dir" && sha256sum -c --quiet node_modules/.lock.sha256 >/dev/null 2>&1); then
    exit 0
  fi
  echo "installing $dir (npm ci)..." >&2
  (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && sha256sum package-lock.json >node_modules/.lock.sha256)
  ;;
*)
  echo "usage: scripts/node.sh iam-simulate" >&2
  exit 2
  ;;
esac
