#!/usr/bin/env bash
# The full test suite, from a fresh clone: installs what is missing, builds, starts the test stack
# (its own Postgres, Redis and Kafka under .sluice-test/, other ports than `sluice dev`) once for
# the whole run, runs every test file with node's test runner, and stops what it started.
# Set DATABASE_URL / REDIS_URL / KAFKA_BROKERS to test against external services instead.
set -euo pipefail
cd "$(dirname "$0")/.."

export SLUICE_HOME="${SLUICE_TEST_HOME:-$PWD/.sluice-test}"
export SLUICE_PG_PORT="${SLUICE_TEST_PG_PORT:-25432}"
export SLUICE_REDIS_PORT="${SLUICE_TEST_REDIS_PORT:-26379}"
export SLUICE_KAFKA_PORT="${SLUICE_TEST_KAFKA_PORT:-29092}"
export SLUICE_KAFKA_CONTROLLER_PORT="${SLUICE_TEST_KAFKA_CONTROLLER_PORT:-29093}"
export SLUICE_MARIADB_PORT="${SLUICE_TEST_MARIADB_PORT:-23306}"
export SLUICE_MARIADB_REPLICA_PORT="${SLUICE_TEST_MARIADB_REPLICA_PORT:-23307}"
export SLUICE_LOG_LEVEL="${SLUICE_LOG_LEVEL:-warn}"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[test] installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
echo "[test] compiling TypeScript"
rm -rf dist
npx tsc -p tsconfig.json
node dist/stack/cli.js install # system packages of the default stack (apt-get as root)
for hook in test/setup.d/*.sh; do [ -e "$hook" ] && bash "$hook"; done

# Stop the stack on exit only if this run started it (a developer's running test stack is left alone).
started_here=0
if ! node dist/stack/cli.js status --json | node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8"));process.exit(s.services.every(x=>x.state!=="stopped")?0:1)'; then
  started_here=1
fi
cleanup() { if [ "$started_here" = 1 ]; then node dist/stack/cli.js stop || true; fi; }
trap cleanup EXIT
# Tests derive service URLs from the SLUICE_*_PORT variables (api/config.ts), not from exported
# DATABASE_URL & co, so the stack's services stay "local" and fault tests can stop and start them.
node dist/stack/cli.js start >/dev/null

files=$(find dist/test -name '*.test.js' | sort)
echo "[test] running $(echo "$files" | wc -l) test files"
# Files run one at a time: they share one stack, and fault tests stop and start its services.
node --test --test-concurrency=1 --test-timeout=600000 ${SLUICE_TEST_FILTER:+--test-name-pattern="$SLUICE_TEST_FILTER"} $files
