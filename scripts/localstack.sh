#!/usr/bin/env bash
# Start or stop LocalStack on 127.0.0.1 without Docker (see ../shared/EMULATOR.md).
#   scripts/localstack.sh start   # waits until healthy; PID and log under .lg-run/
#   scripts/localstack.sh stop
# Environment: LG_LOCALSTACK_PORT (default 4566), LG_RUN_DIR (default .lg-run).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${LG_LOCALSTACK_PORT:-4566}"
RUN="${LG_RUN_DIR:-$PWD/.lg-run}"
mkdir -p "$RUN"
PIDFILE="$RUN/localstack.pid"
LOG="$RUN/localstack.log"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "${1:-}" in
start)
  scripts/venv.sh localstack >&2
  if port_busy "$PORT"; then
    echo "localstack.sh: port $PORT on 127.0.0.1 is already in use; stop what runs there or set LG_LOCALSTACK_PORT" >&2
    exit 1
  fi
  fs="$RUN/localstack-fs"; rm -rf "$fs"; mkdir -p "$fs"
  closed=http://127.0.0.1:9
  echo "starting LocalStack on 127.0.0.1:$PORT (log: $LOG)" >&2
  env GATEWAY_LISTEN="127.0.0.1:$PORT" LOCALSTACK_HOST="127.0.0.1:$PORT" DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 \
    DNS_ADDRESS=0 PERSISTENCE=0 SQS_ENDPOINT_STRATEGY=path FILESYSTEM_ROOT="$fs" \
    API_ENDPOINT="$closed" ANALYTICS_API="$closed" OUTBOUND_HTTP_PROXY="$closed" OUTBOUND_HTTPS_PROXY="$closed" \
    HTTP_PROXY="$closed" HTTPS_PROXY="$closed" NO_PROXY=127.0.0.1,localhost LOCALSTACK_CLI=0 \
    .venv-localstack/bin/python -m localstack.runtime.main >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$PORT/_localstack/health" >/dev/null 2>&1; then
      echo "LocalStack is healthy" >&2
      exit 0
    fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "localstack.sh: LocalStack exited during start-up; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "localstack.sh: LocalStack not healthy after 60 s; see $LOG" >&2
  exit 1
  ;;
stop)
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
  fi
  ;;
*)
  echo "usage: scripts/localstack.sh start|stop" >&2
  exit 2
  ;;
esac
