# Kairos: `make run` runs the product, `make test` checks everything; both install what is
# missing first (scripts/setup.sh: Rust components, apt packages, npm packages).
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

HAS_DESKTOP := $(wildcard src-tauri/Cargo.toml)

.PHONY: setup ui run serve build package test test-rust test-ui test-api test-desktop test-package bench

setup:
	@bash scripts/setup.sh

# The web admin's built assets (kairos serve and the desktop app serve ui/dist).
ui: setup
	cd ui && npm run build

ifneq ($(HAS_DESKTOP),)
run: ui
	cargo run --release -p kairos-desktop
else
run: serve
endif

# The headless server with the web admin, on the default database.
serve: ui
	cargo run --release -p kairos -- serve

build: ui
	cargo build --release --workspace

# The Linux packages (.deb, .rpm) of the release build: target/release/bundle/{deb,rpm}/.
package: ui
	bash scripts/package.sh

test: ui test-rust test-ui test-api $(if $(HAS_DESKTOP),test-desktop test-package)

test-rust: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	bash scripts/with-pg.sh cargo test --workspace
	bash scripts/examples.sh
	cargo check -p kairos-core --no-default-features --all-targets
	cargo package -p kairos-core --allow-dirty --quiet

# The desktop app end to end: the real app under Xvfb through tauri-driver + WebKitWebDriver
# (tests/desktop/run.sh also works alone from a fresh clone; here `ui` has built ui/dist).
test-desktop: setup ui
	KAIROS_E2E_SKIP_UI_BUILD=1 bash tests/desktop/run.sh

# The .deb installed on this machine with apt, the installed app started under Xvfb, then
# removed (scripts/test-package.sh; needs root or sudo). Packs the debug build test-ui made.
test-package: setup ui
	bash scripts/test-package.sh

# The web admin: lint, types, unit tests, then the browser tests against a debug kairos.
# `--tests` gives the binaries the dependency features `cargo test` used, so after test-rust
# nothing is compiled twice.
test-ui: setup
	cargo build --workspace --bins --tests
	cd ui && npm run check:api && npm run lint && npm run typecheck && npm test && npm run e2e

# The API against its own OpenAPI document: schemathesis fuzzes every operation of a debug
# kairos (scripts/api-fuzz.sh). The same build as test-ui's, so nothing is compiled again.
test-api: setup
	cargo build --workspace --bins --tests
	bash scripts/api-fuzz.sh

bench: setup
	cargo bench -p kairos-core --bench cron_next
