# launchguard — run `make help` for the list.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help demo test lint lint-deploy unit e2e bench build deploy undeploy clean schemas

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

demo: ## Catch and contain a mass launch on a local AWS emulator (LocalStack), then print what happened
	scripts/demo.sh

test: ## Everything CI runs: format, lints, template and policy linters, unit tests, end-to-end tests on LocalStack; prints a table of phase times and test counts
	scripts/test.sh

# clippy runs as the compiler of the workspace's crates (scripts/linted.sh): `lint`, `unit` and `e2e`
# share one build, and a clippy warning fails it as `cargo clippy -- -D warnings` would.
lint: ## cargo fmt --check, then every target built with clippy's lints as errors (= cargo clippy --workspace --all-targets -- -D warnings)
	$(CARGO) fmt --all --check
	scripts/linted.sh $(CARGO) test --workspace --all-targets --locked --no-run

lint-deploy: ## cfn-lint on the templates; parliament (strict, community auditors) and cloudsplaining on every policy (accepted findings: deploy/accepted-findings.json)
	scripts/venv.sh tools
	.venv-tools/bin/python deploy/lint.py

unit: ## Unit and in-process tests of every crate (no network), on the linted build
	scripts/linted.sh $(CARGO) test --workspace --locked

schemas: ## Regenerate the JSON Schemas (schemas/*.schema.json: the contract's, scan's and rules' JSON output) from the Rust types; `make unit` fails while they are stale
	$(CARGO) run --quiet -p launchguard-core --example write_schemas --locked
	$(CARGO) run --quiet -p launchguard-cli --example write_output_schemas --locked

e2e: ## The whole chain on LocalStack with cargo lambda watch (test modules in parallel: LG_E2E_WORKERS, default 3)
	scripts/linted.sh scripts/e2e.sh

bench: ## Every benchmark (throughput, query cost, package size, start-up, memory, latency, archive replay); writes BENCHMARKS.md
	scripts/venv.sh tools
	.venv-tools/bin/python bench/run.py

build: ## Release zips of the five functions (target/lambda/*/bootstrap.zip)
	scripts/venv.sh tools
	PATH="$(CURDIR)/.venv-tools/bin:$$PATH" $(CARGO) lambda build --release --output-format zip

deploy: ## Deploy to the AWS account of your AWS_PROFILE/AWS_REGION (settings: deploy/config.env; ARGS=--dry prints the plan)
	scripts/venv.sh tools
	.venv-tools/bin/python deploy/deploy.py $(ARGS)

undeploy: ## Remove what `make deploy` created (incident records are kept)
	scripts/venv.sh tools
	.venv-tools/bin/python deploy/deploy.py --remove

clean: ## Remove build output, venvs and run state
	$(CARGO) clean
	rm -rf .venv-localstack .venv-tools .venv-uv .lg-run
