#!/usr/bin/env bash
# Run a cargo command (or a script that runs cargo) the way `make test` builds:
# - clippy-driver compiles the workspace's own crates, with the arguments of
#   `cargo clippy -- -D warnings`: the build lints as it compiles, so clippy, the unit tests and the
#   end-to-end functions share one set of artifacts. Dependencies are compiled by rustc as usual.
# - sccache (from .venv-tools, scripts/requirements-tools.txt) caches compiled crates across
#   clones in $SCCACHE_DIR (default ~/.cache/launchguard/sccache, at most $SCCACHE_CACHE_SIZE,
#   default 4G), so a fresh clone compiles only what changed. LG_SCCACHE=0 turns it off.
# Usage: scripts/linted.sh cargo test --workspace
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
driver=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver) \
  || { echo "linted.sh: clippy-driver not found; install it with: rustup component add clippy" >&2; exit 2; }
export RUSTC_WORKSPACE_WRAPPER="$driver"
# cargo-clippy's own encoding of the arguments after `--`
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
if [ "${LG_SCCACHE:-1}" != "0" ] && [ -z "${RUSTC_WRAPPER:-}" ] && [ -x "$here/.venv-tools/bin/sccache" ]; then
  # through scripts/cached-rustc.sh, which keeps settings such as CARGO_TARGET_DIR and
  # CARGO_INCREMENTAL out of sccache's cache key: .ci/run, make test and a worktree share entries
  export LG_SCCACHE_BIN="$here/.venv-tools/bin/sccache"
  export RUSTC_WRAPPER="$here/scripts/cached-rustc.sh"
  export SCCACHE_DIR="${SCCACHE_DIR:-$HOME/.cache/launchguard/sccache}"
  export SCCACHE_CACHE_SIZE="${SCCACHE_CACHE_SIZE:-4G}"
  # its own server (the settings above are fixed when a server starts), not a sccache of yours
  export SCCACHE_SERVER_PORT="${SCCACHE_SERVER_PORT:-4229}"
fi
exec "$@"
