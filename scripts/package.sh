#!/usr/bin/env bash
# Builds the Linux packages (.deb and .rpm) with Tauri's bundler, offline: the desktop app,
# the `kairos` command with its shell completions and manual pages, and the systemd unit for
# system-wide installs. Usage: scripts/package.sh [--debug]  (default: a release build)
# The packages land in target/<profile>/bundle/{deb,rpm}/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

profile=release
cargo_flags=(--release)
bundle_flags=()
if [ "${1:-}" = --debug ]; then
    profile=debug
    # The features `cargo test --workspace` built with (see the Makefile): nothing rebuilt.
    cargo_flags=(--workspace --bins --tests)
    bundle_flags=(--debug)
fi

[ -f ui/dist/index.html ] || (cd ui && npm run build)
if [ "$profile" = release ]; then
    cargo build "${cargo_flags[@]}" -p kairos-desktop -p kairos
else
    cargo build "${cargo_flags[@]}"
fi

bin="target/$profile/kairos"
root=target/package-root
rm -rf "$root"
mkdir -p "$root/completions" "$root/man"
cp "$bin" "$root/kairos"
"$bin" completions bash >"$root/completions/kairos"
"$bin" completions zsh >"$root/completions/_kairos"
"$bin" completions fish >"$root/completions/kairos.fish"
"$bin" man --dir "$root/man"
gzip -n -9 "$root"/man/*.1
# The unit for `systemctl enable --now kairos` after a package install (a dynamic user, its
# database in /var/lib/kairos).
"$bin" service unit --system --exe /usr/bin/kairos >"$root/kairos.service"

ui/node_modules/.bin/tauri bundle --ci --bundles deb,rpm "${bundle_flags[@]}"
ls -l target/"$profile"/bundle/deb/*.deb target/"$profile"/bundle/rpm/*.rpm
