#!/usr/bin/env bash
# The full test suite, from a fresh clone: installs what is missing, builds, starts the test stack
# (its own Postgres, Redis and Kafka under .sluice-test/, other ports than `sluice dev`) once for
# the whole run, runs every test file with node's test runner, and stops what it started.
# Set DATABASE_URL / REDIS_URL / KAFKA_BROKERS to test against external services instead.
set -euo pipefail
cd "$(dirname "$0")/.."

source test/stack-env.sh

ensure_node_modules test
echo "[test] compiling TypeScript"
rm -rf dist
npx tsc -p tsconfig.json
node dist/stack/cli.js install # system packages of the default stack (apt-get as root)
for hook in test/setup.d/*.sh; do [ -e "$hook" ] && bash "$hook"; done

start_test_stack

files=$(find dist/test -name '*.test.js' | sort)
echo "[test] running $(echo "$files" | wc -l) test files"
# Files run one at a time: they share one stack, and fault tests stop and start its services.
node --test --test-concurrency=1 --test-timeout=600000 ${SLUICE_TEST_FILTER:+--test-name-pattern="$SLUICE_TEST_FILTER"} $files
