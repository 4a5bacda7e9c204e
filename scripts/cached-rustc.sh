#!/usr/bin/env bash
# RUSTC_WRAPPER of scripts/linted.sh: sccache, with the caller's cargo settings that do not change
# what rustc produces taken out of its environment. sccache puts every CARGO_* variable of the
# compiler's environment into its cache key, so a build with CARGO_TARGET_DIR set (a worktree with
# its own target directory) or with CARGO_INCREMENTAL=0 (.ci/run) would never reuse what a plain
# `make test` compiled, and the other way round. rustc reads none of these; cargo has already
# applied them (its target directory, and `-C incremental` on the workspace's crates, which sccache
# does not cache anyway) before it runs this wrapper.
exec env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR -u CARGO_INCREMENTAL -u CARGO_BUILD_INCREMENTAL \
  -u CARGO_BUILD_JOBS -u CARGO_TERM_COLOR -u CARGO_TERM_PROGRESS_WHEN -u CARGO_TERM_VERBOSE -u CARGO_TERM_QUIET \
  "$LG_SCCACHE_BIN" "$@"
