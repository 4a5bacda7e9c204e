#!/usr/bin/env bash
# `make demo`: installs what it needs, builds the functions, runs the scenario on LocalStack,
# prints what happened and stops everything it started. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[launchguard] preparing Python environments for LocalStack and cargo-lambda (first time: about two minutes)..."
scripts/venv.sh localstack
scripts/venv.sh tools
echo "[launchguard] building the five functions (first time: several minutes on 2 cores)..."
cargo build --workspace --bins --locked --quiet
trap 'scripts/stop.sh' EXIT
.venv-localstack/bin/python e2e/demo.py
