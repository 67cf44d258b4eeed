# Kairos: `make run` runs the product, `make test` checks everything; both install what is missing.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: setup run desktop build test test-desktop bench

setup:
	@bash scripts/setup.sh
	@bash scripts/desktop-deps.sh

run: setup
	cargo run --release -p kairos -- --help

# The desktop app: engine, web admin (built first when ui/ is in the tree) and tray in one process.
desktop: setup
	@if [ -f ui/package.json ]; then cd ui && npm ci --no-audit --no-fund && npm run build; fi
	cargo run --release -p kairos-desktop

build: setup
	cargo build --release --workspace

test: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace
	bash tests/desktop/run.sh

# The desktop app's end-to-end tests alone (Xvfb, tauri-driver, WebKitWebDriver).
test-desktop: setup
	bash tests/desktop/run.sh

bench: setup
	cargo bench -p kairos-core --bench cron_next

# The web admin: lint, types, unit tests, then the browser tests against a debug kairos.
.PHONY: test-ui
test-ui: setup
	cargo build -p kairos
	cd ui && npm run lint && npm run typecheck && npm test && npm run e2e
