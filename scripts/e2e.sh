#!/usr/bin/env bash
# End-to-end tests on LocalStack (see e2e/). Installs what it needs, builds the functions once,
# and stops everything it started, also on failure; the logs stay in .lg-run/ (LG_RUN_DIR) when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
scripts/venv.sh localstack
scripts/venv.sh tools
scripts/venv.sh moto               # e2e/test_stream.py's DynamoDB (moto_server)
scripts/node.sh iam-simulate     # e2e/test_iam_simulate.py evaluates the rendered IAM policies with it
scripts/chromium.sh >/dev/null   # e2e/test_report.py opens the incident report in a headless browser
echo "building the five functions (first time: a few minutes)..." >&2
# --all-targets: the same features, so the same artifacts, as the test build (`make lint`, `make
# unit`); `--bins` alone leaves out the dev-dependencies' features and compiles the AWS SDK again.
# The harness starts these binaries itself behind `cargo lambda watch --only-lambda-apis`.
cargo build --workspace --all-targets --locked
# `make deploy` runs `cargo lambda deploy` on what `cargo lambda build` leaves in target/lambda/<fn>/.
# LocalStack cannot run the functions, so the e2e deploy takes the binaries just built there
# instead of a second build of every crate for the Lambda target (minutes and gigabytes on CI);
# `make build` and `make bench` (package size) run the real `cargo lambda build --release`.
for bin in launchguard-detector launchguard-dispatcher launchguard-accesskey-handler launchguard-iam-handler launchguard-ec2-handler launchguard-stream; do
  # where cargo lambda looks: the target directory (CARGO_TARGET_DIR when set)
  mkdir -p "${CARGO_TARGET_DIR:-target}/lambda/$bin"
  ln -f "${CARGO_TARGET_DIR:-target}/debug/$bin" "${CARGO_TARGET_DIR:-target}/lambda/$bin/bootstrap"
done
trap 'scripts/stop.sh' EXIT
# One LocalStack for the whole run; the test modules run in parallel on pytest-xdist workers
# (LG_E2E_WORKERS, default 3; 0 runs them in this process), each module on one worker
# (--dist loadfile: a module's tests share their scenario and run in order), each worker with its
# own `cargo lambda watch` port (LG_WATCH_PORT + worker number).
scripts/localstack.sh start
export LG_LOCALSTACK_SHARED=1
t1=$(date +%s)
workers="${LG_E2E_WORKERS:-3}"
xdist=()
[ "$workers" = "0" ] || xdist=(-n "$workers" --dist loadfile)
status=0
# e2e/test_install.py (a `cargo install`, about two minutes of compiling) needs neither LocalStack
# nor a port: on a whole run with workers it runs in a pytest of its own beside the pool, from the
# start. In the pool, `--dist loadfile` hands out the modules with the most tests first, so this
# one-test module came last, and the other workers sat idle while it compiled.
side=() side_pid=""
run_dir="${LG_RUN_DIR:-.lg-run}"
if [ "$workers" != "0" ] && [ "$#" -eq 0 ]; then
  mkdir -p "$run_dir"
  .venv-localstack/bin/python -m pytest -p no:cacheprovider -v --durations=0 e2e/test_install.py >"$run_dir/install.log" 2>&1 &
  side_pid=$!
  side=(--ignore=e2e/test_install.py)
fi
.venv-localstack/bin/python -m pytest -p no:cacheprovider -v --durations=0 "${xdist[@]}" "${side[@]}" e2e/ "$@" || status=$?
if [ -n "$side_pid" ]; then
  side_status=0
  wait "$side_pid" || side_status=$?
  cat "$run_dir/install.log"
  [ "$side_status" -eq 0 ] || status=$side_status
fi
echo "e2e timing: set-up $((t1 - t0)) s (venvs, chromium, build, LocalStack), run $(($(date +%s) - t1)) s (${workers} workers)"
if [ "$status" -ne 0 ]; then
  run="${LG_RUN_DIR:-.lg-run}"
  echo "end-to-end tests failed; logs: $run/localstack.log, $run/watch-*.log" >&2
  for log in "$run"/watch-*.log; do
    [ -f "$log" ] || continue
    echo "--- $log" >&2
    tail -n 40 "$log" | cut -c1-400 >&2 || true
  done
fi
exit "$status"
