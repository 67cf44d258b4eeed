#!/usr/bin/env bash
# End-to-end tests of the desktop app, from a fresh clone: installs what is missing, builds
# the web admin (if ui/ exists), the app and the CLI, then drives the real app under Xvfb
# through tauri-driver + WebKitWebDriver on a temporary database. Exits non-zero on failure.
# Screenshots, the app's log and figures.json land in tests/desktop/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/desktop-deps.sh
if ! command -v node >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs
    else sudo apt-get update -qq && sudo apt-get install -y -qq nodejs; fi
fi

if [ -f ui/package.json ] && [ "${KAIROS_E2E_SKIP_UI_BUILD:-}" != 1 ]; then
    (cd ui && npm ci --no-audit --no-fund && npm run build)
fi
# KAIROS_E2E_PROFILE=release measures the release build (the figures in reports use it).
# KAIROS_DESKTOP_BIN and KAIROS_CLI_BIN given (an installed package) test those instead.
if [ -z "${KAIROS_DESKTOP_BIN:-}" ]; then
    PROFILE="${KAIROS_E2E_PROFILE:-debug}"
    if [ "$PROFILE" = release ]; then
        cargo build --release -p kairos-desktop -p kairos
    else
        # The features `cargo test --workspace` used (see the Makefile's test-ui): no second build.
        cargo build --workspace --bins --tests
    fi
    TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | node -e \
        'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
    export KAIROS_DESKTOP_BIN="$TARGET_DIR/$PROFILE/kairos-desktop"
    export KAIROS_CLI_BIN="$TARGET_DIR/$PROFILE/kairos"
fi

WORK=$(mktemp -d /tmp/kairos-desktop-e2e.XXXXXX)
XVFB_PID=
cleanup() {
    set +e
    if [ -n "$XVFB_PID" ]; then kill "$XVFB_PID" 2>/dev/null; wait "$XVFB_PID" 2>/dev/null; fi
    # The session's document portal may leave its FUSE mount under the cache dir.
    for mnt in $(awk -v w="$WORK" 'index($2, w) == 1 {print $2}' /proc/mounts); do
        fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
    done
    rm -rf "$WORK" 2>/dev/null
    return 0
}
trap cleanup EXIT

# A private display: the first free one from :99 up.
DISPLAY_NUM=99
while [ -e "/tmp/.X11-unix/X$DISPLAY_NUM" ] || [ -e "/tmp/.X$DISPLAY_NUM-lock" ]; do
    DISPLAY_NUM=$((DISPLAY_NUM + 1))
done
Xvfb ":$DISPLAY_NUM" -screen 0 1400x900x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$DISPLAY_NUM" ] && break; sleep 0.1; done
export DISPLAY=":$DISPLAY_NUM"

# The app's files all go to the temporary directory: database, token, window state, autostart.
export KAIROS_DB="$WORK/data/kairos.db"
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/share" XDG_CACHE_HOME="$WORK/cache"
export KAIROS_E2E_PORT="${KAIROS_E2E_PORT:-$((4444 + RANDOM % 1000 * 2))}"
export NO_AT_BRIDGE=1
mkdir -p "$WORK/data"

# autostart writes ~/.config/autostart whatever XDG_CONFIG_HOME says: a private home too.
export HOME="$WORK/home"
mkdir -p "$HOME"

# A private session bus: single-instance, notifications and the tray menu talk D-Bus.
status=0
# Extra arguments go to node's test runner, e.g. --test-name-pattern='the app starts'.
dbus-run-session -- node --test --test-concurrency=1 "$@" "$ROOT/tests/desktop/desktop.test.mjs" || status=$?
exit "$status"
