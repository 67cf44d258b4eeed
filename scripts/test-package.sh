#!/usr/bin/env bash
# The .deb as a user meets it, on this machine: builds it (debug profile, the binaries
# `make test` built), installs it with apt (pulling its dependencies), checks the command,
# the completions, the manual, the desktop entry and the shipped systemd unit, starts the
# installed desktop app under Xvfb through the desktop e2e's first tests, then removes the
# package and checks the user's data is still there. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)

fail() { echo "test-package: $*" >&2; exit 1; }

bash scripts/package.sh --debug
deb=$(ls target/debug/bundle/deb/Kairos_*_amd64.deb)
version=$(dpkg-deb -f "$deb" Version)

"${sudo[@]}" apt-get install -y -qq "$ROOT/$deb" >/dev/null
trap '"${sudo[@]}" dpkg --purge kairos >/dev/null 2>&1 || true' EXIT

[[ "$(kairos --version)" =~ ^kairos\ $version\ \([0-9a-f]{7}\)$ ]] ||
    fail "kairos --version said: $(kairos --version)"
[ "$(command -v kairos)" = /usr/bin/kairos ] || fail "kairos is not /usr/bin/kairos"
desktop-file-validate /usr/share/applications/Kairos.desktop
grep -q '^Comment\[zh_CN\]=' /usr/share/applications/Kairos.desktop || fail "no Chinese comment"
for size in 32x32 64x64 128x128 512x512; do
    [ -f "/usr/share/icons/hicolor/$size/apps/kairos-desktop.png" ] || fail "no $size icon"
done
[ -f /usr/share/doc/kairos/copyright ] || fail "no licence in /usr/share/doc/kairos"
bash -n /usr/share/bash-completion/completions/kairos
grep -q 'service' /usr/share/bash-completion/completions/kairos || fail "bash completion lacks 'service'"
dpkg-deb -c "$deb" >"$ROOT/target/package-contents.txt"
grep -q 'usr/share/man/man1/kairos-service-install.1.gz' "$ROOT/target/package-contents.txt" ||
    fail "the package lacks the manual pages"

# The shipped unit verifies (its Documentation= is man:kairos(1): give man the page even where
# the image excludes /usr/share/man from packages).
work=$(mktemp -d)
mkdir -p "$work/man/man1" "$work/run"
chmod 700 "$work/run"
kairos man >"$work/man/man1/kairos.1"
MANPATH="$work/man" systemd-analyze verify /usr/lib/systemd/system/kairos.service

# The installed desktop app starts under Xvfb and its UI works.
KAIROS_DESKTOP_BIN=/usr/bin/kairos-desktop KAIROS_CLI_BIN=/usr/bin/kairos \
    KAIROS_E2E_SKIP_UI_BUILD=1 KAIROS_E2E_SAMPLE_S=2 KAIROS_E2E_SHOTS="$ROOT/target/package-e2e" \
    bash tests/desktop/run.sh --test-name-pattern='the app starts|a job created in the UI'

# Data written through the package outlives its removal.
db="$work/home/kairos.db"
kairos --db "$db" job add --name kept --every 1h --command true >/dev/null
"${sudo[@]}" apt-get remove -y -qq kairos >/dev/null
[ ! -e /usr/bin/kairos ] || fail "/usr/bin/kairos is still there after removal"
[ -s "$db" ] || fail "the database went with the package"
rm -rf "$work"
echo "test-package: $deb installs, works and uninstalls cleanly"
