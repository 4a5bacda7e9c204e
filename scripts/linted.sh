#!/usr/bin/env bash
# Run a cargo command (or a script that runs cargo) with clippy-driver as the compiler of the
# workspace's own crates, with the arguments of `cargo clippy -- -D warnings`: the build lints as
# it compiles, so clippy, the unit tests and the end-to-end functions share one set of artifacts.
# Dependencies are compiled by rustc as usual.   Usage: scripts/linted.sh cargo test --workspace
set -euo pipefail
driver=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver) \
  || { echo "linted.sh: clippy-driver not found; install it with: rustup component add clippy" >&2; exit 2; }
export RUSTC_WORKSPACE_WRAPPER="$driver"
# cargo-clippy's own encoding of the arguments after `--`
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
exec "$@"
