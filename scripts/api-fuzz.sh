#!/usr/bin/env bash
# Schema-driven API tests: schemathesis (in target/venv, from scripts/setup.sh) generates
# requests for every operation of /api/openapi.json of a real `kairos serve` (target/debug/kairos,
# or $KAIROS_BIN) on a throw-away SQLite database, and checks every answer against that document:
# no 5xx, only documented status codes and content types, bodies matching their schemas.
# Exits non-zero on any failure. Extra arguments go to `schemathesis run` (e.g. --max-examples 200,
# --seed 2, --include-path /api/jobs, --report ndjson). The server's log and a JUnit report are
# left in target/api-fuzz/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

schemathesis=target/venv/bin/schemathesis
if [ ! -x "$schemathesis" ]; then
    echo "api-fuzz: $schemathesis is missing: run scripts/setup.sh (or make setup)" >&2
    exit 1
fi
bin=$(realpath -m "${KAIROS_BIN:-target/debug/kairos}")
if [ ! -x "$bin" ]; then
    echo "api-fuzz: no kairos binary at $bin: run 'cargo build -p kairos' or set KAIROS_BIN" >&2
    exit 1
fi

# The fuzzer adds jobs and runs them: shell commands and HTTP requests that it made up. So the
# server and schemathesis share a network namespace of their own with nothing but loopback, and
# the server works, and has its HOME, in the throw-away directory (the shell jobs' defaults).
if [ -z "${KAIROS_API_FUZZ_NETNS:-}" ]; then
    unshare=(unshare --net)
    [ "$(id -u)" = 0 ] || unshare+=(--map-root-user)
    if "${unshare[@]}" true 2>/dev/null; then
        KAIROS_API_FUZZ_NETNS=1 exec "${unshare[@]}" "$root/scripts/api-fuzz.sh" "$@"
    fi
    # A container without user namespaces: the jobs can still only reach what this machine
    # reaches; say so and go on.
    echo "api-fuzz: '${unshare[*]}' is not allowed here; running without a private network" >&2
    KAIROS_API_FUZZ_NETNS=0
fi
if [ "$KAIROS_API_FUZZ_NETNS" = 1 ]; then
    PATH="$PATH:/usr/sbin:/sbin" ip link set lo up
fi

out=target/api-fuzz
rm -rf "$out"
mkdir -p "$out"
dir=$(mktemp -d "${TMPDIR:-/tmp}/kairos-api-fuzz.XXXXXX")
server=
# Stops the server as `kairos serve` expects (SIGTERM; SIGKILL if its jobs hold it up) and keeps
# its log.
stop() {
    if [ -n "$server" ] && kill -TERM "$server" 2>/dev/null; then
        for _ in $(seq 50); do
            kill -0 "$server" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    cp "$dir/log" "$out/kairos.log" 2>/dev/null || true
    rm -rf "$dir"
}
trap stop EXIT

# A free port: kairos binds port 0 and prints http://127.0.0.1:PORT/?token=TOKEN first.
: >"$dir/url"
(cd "$dir" && HOME="$dir" RUST_LOG="${RUST_LOG:-warn}" exec "$bin" serve \
    --db "$dir/kairos.db" --bind 127.0.0.1:0) >"$dir/url" 2>"$dir/log" &
server=$!
for _ in $(seq 150); do
    [ "$(wc -l <"$dir/url")" -ge 1 ] && break
    if ! kill -0 "$server" 2>/dev/null; then
        echo "api-fuzz: kairos serve exited:" >&2
        cat "$dir/log" >&2
        exit 1
    fi
    sleep 0.1
done
url=$(head -n 1 "$dir/url")
case "$url" in
*'/?token='*) ;;
*)
    echo "api-fuzz: kairos serve printed no URL in 15 s:" >&2
    cat "$dir/log" >&2
    exit 1
    ;;
esac
origin=${url%%/\?token=*}
token=${url##*token=}
if ! curl -sf --retry 20 --retry-delay 1 --retry-all-errors -o /dev/null "$origin/healthz"; then
    echo "api-fuzz: $origin/healthz does not answer 200" >&2
    exit 1
fi

# Every operation but /api/events: the SSE stream never ends and sends nothing until an event,
# so each request it accepts would hold the run up for the whole --request-timeout.
# 40 examples per operation and a fixed seed keep the run short and repeatable; no example
# database nor crash cache (scripts/schemathesis.toml), and hypothesis' files in $out, so no
# run depends on the one before; every failure is listed, not the first only.
echo "api-fuzz: $("$schemathesis" --version) against $origin ($bin)"
HYPOTHESIS_STORAGE_DIRECTORY="$out/hypothesis" \
    "$schemathesis" --config-file scripts/schemathesis.toml run "$origin/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /api/events \
    --max-examples 40 \
    --seed 1 \
    --generation-database none \
    --request-timeout 10 \
    --continue-on-failure \
    --report junit \
    --report-dir "$out" \
    "$@"
