#!/usr/bin/env bash
# Sluice vs Debezium + Kafka Connect, from a fresh clone:  npm run bench:peer-debezium -- [flags]
# Installs what is missing (Postgres, Redis, Java 17, Maven: `stack/cli.js install`; npm ci),
# builds, starts the test stack's services if they are not running (same home and ports as
# test/run.sh, or the SLUICE_TEST_* overrides it honours), runs bench/peer-debezium/main.ts with the
# flags given, and stops the stack again if it started it. Kafka Connect's jars are fetched by Maven
# on the first run and cached under ${XDG_CACHE_HOME:-~/.cache}/sluice/peer-debezium/.
set -euo pipefail
cd "$(dirname "$0")/../.."

source test/stack-env.sh

# The stack needs Maven only until the broker's jars are cached; this bench needs it for Connect's.
if ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 -q update
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends --no-upgrade maven
  else
    echo "peer-debezium: Maven (mvn) is needed to fetch Kafka Connect and Debezium from Maven Central; install it (apt-get install maven)" >&2
    exit 1
  fi
fi
ensure_node_modules peer-debezium
npx tsc -p tsconfig.json
node dist/stack/cli.js install

start_test_stack

node dist/bench/peer-debezium/main.js "$@"
