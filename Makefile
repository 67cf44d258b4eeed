# Kairos: `make run` runs the product, `make test` checks everything; both install what is missing.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: setup run build test bench

setup:
	@bash scripts/setup.sh

run: setup
	cargo run --release -p kairos -- --help

build: setup
	cargo build --release --workspace

test: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace

bench: setup
	cargo bench -p kairos-core --bench cron_next

# The web admin: lint, types, unit tests, then the browser tests against a debug kairos.
.PHONY: test-ui
test-ui: setup
	cargo build -p kairos
	cd ui && npm run lint && npm run typecheck && npm test && npm run e2e
