#!/usr/bin/env bash
# Stop what the end-to-end tests and the demo started, even when they were killed before their
# own clean-up ran: `cargo lambda watch` (its process group, .lg-run/watch.pid) and LocalStack.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -f .lg-run/watch.pid ]; then
  pgid=$(cat .lg-run/watch.pid)
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$pgid" 2>/dev/null || true
  rm -f .lg-run/watch.pid
fi
scripts/localstack.sh stop
