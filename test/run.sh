#!/usr/bin/env bash
# The full test suite, from a fresh clone: installs what is missing, builds, starts the test stack
# (its own Postgres, Redis and Kafka under .sluice-test/, other ports than `sluice dev`) once for
# the whole run, runs every test file with node's test runner, and stops what it started.
# Set DATABASE_URL / REDIS_URL / KAFKA_BROKERS to test against external services instead.
#
# Files run in two lanes: most beside each other (SLUICE_TEST_CONCURRENCY at a time, default 3:
# they wait on databases and Kafka more than they compute), then, one at a time, the files marked
# `// test-lane: exclusive` because they stop or kill a service of the shared stack.
set -euo pipefail
cd "$(dirname "$0")/.."

source test/stack-env.sh

# Terraform 1.5.7 / OpenTofu builds (minutes on a cold machine) run in the background from here on;
# the provider tests that need them wait for them.
bash test/setup.d/terraform.sh
ensure_node_modules test
echo "[test] compiling TypeScript"
rm -rf dist
npx tsc -p tsconfig.json
node dist/stack/cli.js install # system packages of the default stack (apt-get as root)
for hook in test/setup.d/*.sh; do [ -e "$hook" ] && bash "$hook"; done

start_test_stack
# The destinations' servers (Elasticsearch, moto for s3, a second Kafka broker) start beside the first test
# files: they wait for them (startService) and the stack's stop on exit stops them. Log: .sluice-test/logs/.
node dist/stack/cli.js start elasticsearch s3 kafka-2 >"$SLUICE_HOME/logs/destination-servers-start.log" 2>&1 &

# npm run test:repeat: the fault scenarios N times against this stack instead of the suite (test/repeat.ts).
if [ "${1:-}" = "--repeat" ]; then shift; node dist/test/repeat.js "$@"; exit; fi

all=$(find dist/test -name '*.test.js' | sort)
exclusive=$(grep -l '^// test-lane: exclusive' $all || true)
shared=$(comm -23 <(echo "$all") <(echo "$exclusive" | sort))
echo "[test] running $(echo "$all" | wc -l) test files: $(echo "$shared" | wc -l) side by side, $(echo "$exclusive" | grep -c . || true) alone"
pattern=${SLUICE_TEST_FILTER:+--test-name-pattern=$SLUICE_TEST_FILTER}
logs=$(mktemp -d)
status=0
node --test --test-concurrency="${SLUICE_TEST_CONCURRENCY:-3}" --test-timeout=900000 ${pattern:+"$pattern"} $shared 2>&1 | tee "$logs/shared.tap" || status=1
if [ -n "$exclusive" ]; then
  node --test --test-concurrency=1 --test-timeout=900000 ${pattern:+"$pattern"} $exclusive 2>&1 | tee "$logs/exclusive.tap" || status=1
fi
# One summary for both lanes (CI reads it).
sum() { grep -h "^# $1 " "$logs"/*.tap | awk '{ n += $3 } END { print n + 0 }'; }
echo "[test] ${SECONDS} s: $(sum tests) tests, $(sum pass) passed, $(sum fail) failed, $(sum skipped) skipped, $(sum cancelled) cancelled"
echo "$(sum pass) passed, $(sum fail) failed"
exit $status
