#!/usr/bin/env bash
# Runs a command with KAIROS_TEST_PG naming a PostgreSQL server for the tests that need one:
# the server the caller already named, or a private throw-away cluster started here with
# scripts/pg.sh and stopped when the command ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${KAIROS_TEST_PG:-}" ]; then
    exec "$@"
fi
dir=target/pg-test
url=$(bash scripts/pg.sh start "$dir")
trap 'bash scripts/pg.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
echo "with-pg: PostgreSQL for the tests at $url" >&2
KAIROS_TEST_PG=$url "$@"
