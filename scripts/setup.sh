#!/usr/bin/env bash
# Installs what `make` needs on a fresh Debian 12 machine, and nothing that is already there:
# Rust with rustfmt and clippy, a C compiler, PostgreSQL for the tests' private clusters,
# Node.js and npm with the UI's packages, Chromium for the browser tests, schemathesis for the
# API tests, libfaketime for a clock test, and the desktop app's WebKitGTK/appindicator
# packages.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

updated=
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        if [ -z "$updated" ]; then
            as_root apt-get update -qq
            updated=1
        fi
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
    fi
}

# Rust toolchain with rustfmt and clippy.
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
    apt_install curl ca-certificates build-essential
    echo "setup: installing Rust via rustup"
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
fi
if command -v rustup >/dev/null 2>&1; then
    for component in rustfmt clippy; do
        rustup component list --installed 2>/dev/null | grep -q "^$component" \
            || rustup component add "$component"
    done
fi
command -v cc >/dev/null 2>&1 || apt_install build-essential
command -v pkg-config >/dev/null 2>&1 || apt_install pkg-config

# PostgreSQL's server binaries (/usr/lib/postgresql/<ver>/bin) for scripts/pg.sh, which runs a
# private throw-away cluster for the tests. The package may also create and start Debian's own
# cluster on port 5432; nothing here uses it.
apt_install postgresql

# libfaketime, for the test that sets the wall clock of a real `kairos serve` while it runs.
apt_install faketime

# The web admin: Node.js and npm, its packages, and Chromium for its browser tests.
if [ -f ui/package.json ]; then
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    apt_install chromium
    for dir in ui tests/ui tests/desktop; do
        if [ -f "$dir/package-lock.json" ]; then
            stamp="$dir/node_modules/.kairos-lock"
            if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
                echo "setup: npm ci in $dir"
                (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
                cp "$dir/package-lock.json" "$stamp"
            fi
        fi
    done
fi

# The API tests (scripts/api-fuzz.sh): schemathesis, pinned in scripts/requirements-api.txt, in
# a venv of its own at target/venv; iproute2 brings up loopback in their network namespace.
apt_install iproute2 curl
command -v python3 >/dev/null 2>&1 || apt_install python3
python3 -c 'import ensurepip' >/dev/null 2>&1 || apt_install python3-venv
venv=target/venv
if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    echo "setup: creating the Python venv $venv"
    python3 -m venv --clear "$venv"
fi
stamp="$venv/.kairos-requirements"
if ! cmp -s scripts/requirements-api.txt "$stamp" 2>/dev/null; then
    echo "setup: pip install -r scripts/requirements-api.txt in $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-api.txt
    cp scripts/requirements-api.txt "$stamp"
fi

# The desktop app: WebKitGTK, appindicator, WebKitWebDriver, Xvfb, tauri-driver.
if [ -f scripts/desktop-deps.sh ]; then
    bash scripts/desktop-deps.sh
fi
