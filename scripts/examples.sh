#!/usr/bin/env bash
# Runs every kairos-core example (built by `cargo test`) for a few seconds and checks what it
# printed, so the examples can't rot. Usage: scripts/examples.sh [target dir]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug}/examples"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KAIROS_EXAMPLE_SECS=${KAIROS_EXAMPLE_SECS:-3} NO_COLOR=1 RUST_LOG=info

fail() { echo "examples: $*" >&2; exit 1; }

# run NAME PATTERN [ARGS…]: runs example NAME, which must exit 0 and print PATTERN (a grep -E
# expression); its output is kept in $work/NAME.out.
run() {
  local name=$1 pattern=$2 out="$work/$1.out"
  shift 2
  [[ -x "$bin/$name" ]] || fail "$bin/$name is not built (run cargo test first)"
  timeout 60 "$bin/$name" "$@" >"$out" 2>&1 || { cat "$out" >&2; fail "$name failed"; }
  grep -Eq "$pattern" "$out" || { cat "$out" >&2; fail "$name did not print /$pattern/"; }
  echo "examples: $name ok"
}

run blocking 'tick: run [0-9]+ due at'
grep -q '^report: due at' "$work/blocking.out" || fail "blocking: the cron job did not run"
run background 'app: heartbeat paused'
run listeners 'WARN missed job=strict'
grep -q 'ERROR failed job=breaks error="No such file' "$work/listeners.out" || fail "listeners: no error logged"
run defaults 'most runs at once: 10 \(of 20 jobs\)'
run monitor '[0-9:]+: cpu [0-9.]+% · mem'

# Persistence: the second start finds the first one's runs and keeps one job.
run sqlite 'has 0 runs from earlier starts' "$work/jobs.db"
run sqlite 'has [1-9][0-9]* runs from earlier starts' "$work/jobs.db"

# The web service: add a job over HTTP, list it, see a bad one refused with the field named.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KAIROS_EXAMPLE_ADDR="127.0.0.1:$port" KAIROS_EXAMPLE_SECS=60 "$bin/web_service" >"$work/web.out" 2>&1 &
web=$!
trap 'kill "$web" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/jobs" >/dev/null && break; sleep 0.1; done
added=$(curl -sf -H 'content-type: application/json' \
  -d '{"id":"hello","every_s":5,"command":"echo hello"}' "http://127.0.0.1:$port/jobs")
[[ "$added" == *'"schedule":"every 5s"'* ]] || fail "web_service: POST /jobs gave $added"
listed=$(curl -sf "http://127.0.0.1:$port/jobs")
[[ "$listed" == '[{"id":"hello",'* ]] || fail "web_service: GET /jobs gave $listed"
refused=$(curl -s -H 'content-type: application/json' \
  -d '{"id":"zero","every_s":0,"command":"true"}' "http://127.0.0.1:$port/jobs")
[[ "$refused" == trigger.seconds:* ]] || fail "web_service: a zero interval gave $refused"
grep -q "^listening on http://127.0.0.1:$port" "$work/web.out" || fail "web_service: not on $port"
kill -TERM "$web"
wait "$web" || fail "web_service did not stop cleanly on SIGTERM"
grep -q '^shut down' "$work/web.out" || fail "web_service: no clean shutdown"
echo "examples: web_service ok"
