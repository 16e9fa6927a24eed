# Sourced (not run) by test/run.sh and bench/peer-debezium/run.sh from the repository root: the test
# stack's home and ports (SLUICE_TEST_* override them), and the functions both use to get ready.
# Port plan (every stack must stay clear of the others, and below 32768 where Linux hands out ephemeral
# ports): `sluice dev` 1xxxx; this test stack 23306..29300; test/run.sh's exclusive lane the same + 1000
# (24306..30300); the chaos soak (bench/soak, SLUICE_SOAK_PORT_BASE) 31xxx.
export SLUICE_HOME="${SLUICE_TEST_HOME:-$PWD/.sluice-test}"
export SLUICE_PG_PORT="${SLUICE_TEST_PG_PORT:-25432}"
export SLUICE_REDIS_PORT="${SLUICE_TEST_REDIS_PORT:-26379}"
export SLUICE_KAFKA_PORT="${SLUICE_TEST_KAFKA_PORT:-29092}"
export SLUICE_KAFKA_CONTROLLER_PORT="${SLUICE_TEST_KAFKA_CONTROLLER_PORT:-29093}"
export SLUICE_MARIADB_PORT="${SLUICE_TEST_MARIADB_PORT:-23306}"
export SLUICE_MARIADB_REPLICA_PORT="${SLUICE_TEST_MARIADB_REPLICA_PORT:-23307}"
export SLUICE_ELASTICSEARCH_PORT="${SLUICE_TEST_ELASTICSEARCH_PORT:-29200}"
export SLUICE_ELASTICSEARCH_TRANSPORT_PORT="${SLUICE_TEST_ELASTICSEARCH_TRANSPORT_PORT:-29300}"
# The s3 and kafka destinations' servers (test/run.sh starts them in the background): moto and a second Kafka.
export SLUICE_S3_PORT="${SLUICE_TEST_S3_PORT:-24566}"
export SLUICE_KAFKA2_PORT="${SLUICE_TEST_KAFKA2_PORT:-29094}"
export SLUICE_KAFKA2_CONTROLLER_PORT="${SLUICE_TEST_KAFKA2_CONTROLLER_PORT:-29095}"
export SLUICE_KAFKA2_SASL_PORT="${SLUICE_TEST_KAFKA2_SASL_PORT:-29096}"
export SLUICE_LOG_LEVEL="${SLUICE_LOG_LEVEL:-warn}"

# Runs `npm ci` when node_modules is missing or older than the lock file.
ensure_node_modules() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "[$1] installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund
  fi
}

# Starts the test stack (needs dist/). It is stopped on exit only if this call started it: a
# developer's running test stack is left alone.
start_test_stack() {
  started_here=0
  if ! node dist/stack/cli.js status --json | node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8"));process.exit(s.services.every(x=>x.state!=="stopped")?0:1)'; then
    started_here=1
  fi
  trap 'if [ "$started_here" = 1 ]; then node dist/stack/cli.js stop || true; fi' EXIT
  # Tests derive service URLs from the SLUICE_*_PORT variables (api/config.ts), not from exported
  # DATABASE_URL & co, so the stack's services stay "local" and fault tests can stop and start them.
  node dist/stack/cli.js start >/dev/null
}
