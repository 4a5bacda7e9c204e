#!/usr/bin/env bash
# End-to-end tests on LocalStack (see e2e/). Installs what it needs, builds the functions once,
# and stops everything it started, also on failure; the logs stay in .lg-run/ when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh localstack
scripts/venv.sh tools
echo "building the four functions (first time: a few minutes)..." >&2
cargo build --workspace --bins --locked
echo "packaging them for cargo lambda deploy (cargo lambda build)..." >&2
PATH="$PWD/.venv-tools/bin:$PATH" cargo lambda build --bins --locked
trap 'scripts/localstack.sh stop' EXIT
status=0
.venv-localstack/bin/python -m pytest -p no:cacheprovider -v e2e/ "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "end-to-end tests failed; logs: .lg-run/localstack.log, .lg-run/watch.log" >&2
  tail -n 40 .lg-run/watch.log | cut -c1-400 >&2 || true
fi
exit "$status"
