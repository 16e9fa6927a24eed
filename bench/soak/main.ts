/**
 * bench/soak: the chaos soak. A Postgres -> Kafka -> Postgres and a MariaDB -> Kafka -> Postgres
 * pipeline under steady mixed load while faults are injected at seeded random intervals; at the end
 * it waits for convergence and checks destination == source, DLQ empty, no duplicates, no stuck
 * pipeline. Prints every fault with its time and recovery time, and a summary.
 *   npm run bench:soak -- [--minutes 60] [--seed N] [--tx-per-second 10] [--json report.json] [--keep] [--max-seconds S]
 *   (= npm run build && node dist/bench/soak/main.js ...)
 * Runs on services of its own so it can run beside the test suite: a Postgres (control DB), Redis,
 * Kafka and MariaDB under SLUICE_SOAK_HOME (default .sluice-soak) on ports from SLUICE_SOAK_PORT_BASE
 * N (default 31: N432, N379, N092, N093, N306, N307), plus a source and a destination Postgres of
 * its own (test/dataplane/pg-instance.ts) on free ports. The home is wiped first; the services are
 * stopped at the end (--keep leaves them running). Exit code 0 when every check passed.
 */
import path from 'node:path';
import { DEFAULT_SOAK_PORT_BASE, soakPorts } from './ports';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
function numberArg(name: string, fallback: number): number {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} ${raw}: expected a positive number`);
    process.exit(2);
  }
  return n;
}

const base = numberArg('port-base', Number(process.env.SLUICE_SOAK_PORT_BASE ?? DEFAULT_SOAK_PORT_BASE));
if (!Number.isInteger(base) || base < 10 || base > 64) {
  console.error(
    `SLUICE_SOAK_PORT_BASE / --port-base ${base}: expected an integer 10..64 (ports N432, N379, N092, ...)`,
  );
  process.exit(2);
}
const repo = path.resolve(__dirname, '..', '..', '..');
// The services are the soak's own: whatever the calling shell points at (a test stack, external
// services) must not be touched, and helpers/harness read these variables when they are loaded.
Object.assign(process.env, {
  SLUICE_HOME: path.resolve(process.env.SLUICE_SOAK_HOME ?? path.join(repo, '.sluice-soak')),
  ...soakPorts(base),
  SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn',
});
for (const v of ['DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS', 'MYSQL_URL', 'SLUICE_STACK_MARIADB'])
  delete process.env[v];

const seedArg = arg('seed');
const { runSoak } = require('./run') as typeof import('./run');
runSoak({
  minutes: numberArg('minutes', 60),
  seed: seedArg !== undefined ? Number(seedArg) : Math.floor(Math.random() * 2 ** 31),
  txPerSecond: numberArg('tx-per-second', 10),
  jsonFile: arg('json'),
  keep: process.argv.includes('--keep'),
  maxSeconds: arg('max-seconds') === undefined ? undefined : numberArg('max-seconds', 0),
}).then(
  (ok) => process.exit(ok ? 0 : 1),
  (e) => {
    console.error(`soak failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
