# launchguard — run `make help` for the list.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help demo test lint unit e2e bench build clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

demo: ## Catch and contain a mass launch on a local AWS emulator (LocalStack), then print what happened
	scripts/demo.sh

test: lint unit e2e ## Everything CI runs: format, lints, unit tests, end-to-end tests on LocalStack

lint: ## cargo fmt --check and clippy with warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit: ## Unit and in-process tests of every crate (no network)
	$(CARGO) test --workspace --locked

e2e: ## The whole chain on LocalStack with cargo lambda watch
	scripts/e2e.sh

bench: ## Classification throughput on 100,000 records (see BENCHMARKS.md)
	$(CARGO) bench -p launchguard-core --bench classify --locked

build: ## Release zips of the four functions (target/lambda/*/bootstrap.zip)
	scripts/venv.sh tools
	PATH="$(CURDIR)/.venv-tools/bin:$$PATH" $(CARGO) lambda build --release --output-format zip

clean: ## Remove build output, venvs and run state
	$(CARGO) clean
	rm -rf .venv-localstack .venv-tools .lg-run
