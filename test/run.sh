#!/usr/bin/env bash
# The full test suite, from a fresh clone: installs what is missing, builds, starts the test stack
# (its own Postgres, Redis and Kafka under .sluice-test/, other ports than `sluice dev`) once for
# the whole run, runs every test file with node's test runner, and stops what it started.
# Set DATABASE_URL / REDIS_URL / KAFKA_BROKERS to test against external services instead.
#
# Files run in two lanes. Most run beside each other (SLUICE_TEST_CONCURRENCY at a time, default 3: they
# wait on databases and Kafka more than they compute). Then, one at a time, the files marked
# `// test-lane: exclusive`, because they stop or kill a service of the stack they use. That lane runs beside
# the shared one, on a second stack of its own (.sluice-test-exclusive/, every port + 1000): its files mostly
# wait out outages. SLUICE_TEST_PARALLEL_LANES=0 runs it after the shared lane instead (one stack).
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
servers_started="$SLUICE_HOME/destination-servers.started"
rm -f "$servers_started"
(node dist/stack/cli.js start elasticsearch s3 kafka-2 >"$SLUICE_HOME/logs/destination-servers-start.log" 2>&1 || true
  touch "$servers_started") &

# npm run test:repeat: the fault scenarios N times against this stack instead of the suite (test/repeat.ts).
if [ "${1:-}" = "--repeat" ]; then shift; node dist/test/repeat.js "$@"; exit; fi

all=$(find dist/test -name '*.test.js' | sort)
exclusive=$(grep -l '^// test-lane: exclusive' $all || true)
shared=$(comm -23 <(echo "$all") <(echo "$exclusive" | sort))
echo "[test] running $(echo "$all" | wc -l) test files: $(echo "$shared" | wc -l) side by side, $(echo "$exclusive" | grep -c . || true) alone"
pattern=${SLUICE_TEST_FILTER:+--test-name-pattern=$SLUICE_TEST_FILTER}
logs=$(mktemp -d)
status=0

# The exclusive lane's own stack: the same services on other ports, started once the shared stack's
# destination servers are (their first run installs into caches both stacks share).
exclusive_lane() {
  local v
  for v in PG REDIS KAFKA KAFKA_CONTROLLER MARIADB MARIADB_REPLICA ELASTICSEARCH ELASTICSEARCH_TRANSPORT S3 \
    KAFKA2 KAFKA2_CONTROLLER KAFKA2_SASL; do
    local port="SLUICE_${v}_PORT"
    export "SLUICE_TEST_${v}_PORT=$((${!port} + 1000))"
  done
  export SLUICE_TEST_HOME="$SLUICE_HOME-exclusive"
  source test/stack-env.sh
  mkdir -p "$SLUICE_HOME/logs"
  while [ ! -e "$servers_started" ]; do sleep 2; done
  start_test_stack
  node dist/stack/cli.js start elasticsearch s3 kafka-2 >"$SLUICE_HOME/logs/destination-servers-start.log" 2>&1 &
  node --test --test-concurrency=1 --test-timeout=900000 ${pattern:+"$pattern"} $exclusive >"$logs/exclusive.tap" 2>&1
}
# External services (DATABASE_URL & co) are one set for both lanes: then the lanes run one after the other.
sequential="${DATABASE_URL:-}${REDIS_URL:-}${KAFKA_BROKERS:-}"
[ "${SLUICE_TEST_PARALLEL_LANES:-1}" = 1 ] || sequential=yes
if [ -n "$exclusive" ] && [ -z "$sequential" ]; then
  (exclusive_lane) &
  exclusive_pid=$!
fi
node --test --test-concurrency="${SLUICE_TEST_CONCURRENCY:-3}" --test-timeout=900000 ${pattern:+"$pattern"} $shared 2>&1 | tee "$logs/shared.tap" || status=1
if [ -n "$exclusive" ] && [ -z "$sequential" ]; then
  echo "[test] shared lane done after ${SECONDS} s; the exclusive lane's output follows once it ends"
  wait "$exclusive_pid" || status=1
  cat "$logs/exclusive.tap"
elif [ -n "$exclusive" ]; then
  node --test --test-concurrency=1 --test-timeout=900000 ${pattern:+"$pattern"} $exclusive 2>&1 | tee "$logs/exclusive.tap" || status=1
fi
# One summary for both lanes (CI reads it).
sum() { grep -h "^# $1 " "$logs"/*.tap | awk '{ n += $3 } END { print n + 0 }'; }
echo "[test] ${SECONDS} s: $(sum tests) tests, $(sum pass) passed, $(sum fail) failed, $(sum skipped) skipped, $(sum cancelled) cancelled"
echo "$(sum pass) passed, $(sum fail) failed"
exit $status
