#!/usr/bin/env bash
# Stop what the end-to-end tests and the demo started, even when they were killed before their
# own clean-up ran: every `cargo lambda watch` (its process group, .lg-run/watch-*.pid) and LocalStack.
set -uo pipefail
cd "$(dirname "$0")/.."
run="${LG_RUN_DIR:-.lg-run}"
# one `cargo lambda watch` per pytest-xdist worker (watch-gw0.pid, watch-gw1.pid, ...)
for pidfile in "$run"/watch*.pid; do
  [ -f "$pidfile" ] || continue
  pgid=$(cat "$pidfile")
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$pgid" 2>/dev/null || true
  rm -f "$pidfile"
done
scripts/localstack.sh stop
