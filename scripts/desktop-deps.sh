#!/usr/bin/env bash
# Installs what the desktop app (src-tauri) needs to build and its end-to-end tests need to
# run, on Debian 12 — only what is missing (checked with dpkg -s). Safe to run again.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

PKGS=(
    libwebkit2gtk-4.1-dev          # the webview (WebKitGTK 4.1)
    libayatana-appindicator3-dev   # the tray icon
    librsvg2-dev                   # SVG icons in GTK
    libxdo-dev                     # menu accelerators on X11
    pkg-config                     # finds the above for the -sys crates
    webkit2gtk-driver              # WebKitWebDriver, driven by tauri-driver in tests
    xvfb                           # a display for the tests
    dbus                           # a session bus for the tests (single instance, notifications)
    python3                        # tests/desktop/xtool.py: close a window, take a screenshot
    libglib2.0-bin                 # gdbus: the tests click the tray menu over D-Bus
    desktop-file-utils             # desktop-file-validate: the package's desktop entry
    systemd                        # systemd-analyze verify: the service units
    man-db                         # man: systemd-analyze checks the units' Documentation=
)

missing=()
for pkg in "${PKGS[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "desktop-deps: installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
fi

# tauri-driver: the WebDriver intermediary for Tauri apps, from crates.io.
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tauri-driver >/dev/null 2>&1; then
    echo "desktop-deps: installing tauri-driver"
    cargo install tauri-driver --locked
fi
