#!/usr/bin/env bash
# `make test`: everything CI runs, in the order that fails fastest, each phase timed, with a table
# of the phases and the number of tests run at the end (also when a phase fails).
#
# One build serves clippy, the unit tests and the end-to-end functions: the workspace's crates are
# compiled by clippy-driver (scripts/linted.sh), which lints them with the same arguments as
# `cargo clippy --workspace --all-targets -- -D warnings` while it compiles them, so nothing is
# compiled twice (a `cargo clippy` next to `cargo test` type-checks every dependency a second time).
set -euo pipefail
cd "$(dirname "$0")/.."
run="${LG_RUN_DIR:-.lg-run}"
mkdir -p "$run"
unit_log="$run/unit.log"
e2e_log="$run/e2e.log"

names=()
secs=()
started=$(date +%s)

table() {
  local status=$?
  local rust e2e
  rust=$(grep -hoE '^test result: [a-zA-Z]+\. [0-9]+ passed' "$unit_log" 2>/dev/null | awk '{s += $4} END {print s + 0}')
  # every pytest summary line (the pool's, and e2e/test_install.py's beside it)
  e2e=$(grep -hE '^=+ .*[0-9]+ passed.* in [0-9.]+s' "$e2e_log" 2>/dev/null | grep -oE '[0-9]+ passed' | awk '{s += $1} END {print s + 0}')
  echo
  echo "make test: phase times (seconds)"
  for i in "${!names[@]}"; do printf '  %-28s %6s\n' "${names[$i]}" "${secs[$i]}"; done
  grep -h '^e2e timing:' "$e2e_log" 2>/dev/null | sed 's/^/  /' || true
  printf '  %-28s %6s\n' "total" "$(($(date +%s) - started))"
  echo "tests passed: ${rust:-0} Rust, ${e2e:-0} end-to-end"
  if [ -x .venv-tools/bin/sccache ] && [ "${LG_SCCACHE:-1}" != "0" ]; then
    # the compile cache (scripts/linted.sh): how much of this run's build it served
    # (stopping its server prints the statistics; nothing of make test stays running)
    scripts/linted.sh .venv-tools/bin/sccache --stop-server 2>/dev/null | grep -E '^(Compile requests |Cache hits |Cache misses |Non-cacheable calls)' \
      | sed -E 's/  +/: /; s/^/compile cache /' || true
  fi
  [ "$status" -eq 0 ] || echo "make test FAILED (exit $status) in phase: ${current:-?}" >&2
  exit "$status"
}
trap table EXIT

current=""
phase() { # name command...
  current="$1"
  shift
  echo "=== $current" >&2
  local t0
  t0=$(date +%s)
  "$@"
  names+=("$current")
  secs+=("$(($(date +%s) - t0))")
}

phase "set-up (venvs, chromium)" bash -c 'scripts/venv.sh localstack && scripts/venv.sh tools && scripts/chromium.sh >/dev/null'
[ ! -x .venv-tools/bin/sccache ] || scripts/linted.sh .venv-tools/bin/sccache --zero-stats >/dev/null 2>&1 || true
phase "fmt" cargo fmt --all --check
# `cargo build --all-targets` builds what `cargo test --no-run --all-targets` builds (the same
# artifacts: the unit run reuses them) and the binaries too, which lint-deploy (launchguard-render)
# and the e2e functions need
phase "build + clippy (all targets)" scripts/linted.sh cargo build --workspace --all-targets --locked
# after the build: deploy/render.py then runs the launchguard-render it built (LG_RENDER_BIN) instead
# of `cargo run -p launchguard-render`, which resolves the crate's features on their own and
# compiled launchguard-core a second time (about 50 s of a fresh clone's run)
phase "lint-deploy" env LG_RENDER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/launchguard-render" .venv-tools/bin/python deploy/lint.py
phase "unit run" bash -c "set -o pipefail; scripts/linted.sh cargo test --workspace --locked 2>&1 | tee '$unit_log'"
phase "e2e (set-up and run)" bash -c "set -o pipefail; scripts/linted.sh scripts/e2e.sh 2>&1 | tee '$e2e_log'"
current=""
