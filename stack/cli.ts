// node dist/stack/cli.js start|stop|install [service...] | status | promote-replica | reset-mariadb [--json]
// Progress goes to stderr, results to stdout, so `--json` output can be piped.
import { LocalStack, OPTIONAL_SERVICES, SERVICES, ServiceName, ServiceStatus } from './stack';

const USAGE =
  'usage: node dist/stack/cli.js start|stop|install [service...] | status | promote-replica | reset-mariadb [--json]\n' +
  `  services: ${[...SERVICES, ...OPTIONAL_SERVICES].join(', ')} (none = the default set; MariaDB joins it with SLUICE_STACK_MARIADB=1)`;

function printStatus(services: ServiceStatus[]): void {
  for (const s of services) {
    const health = s.state === 'running' ? (s.healthy ? 'healthy' : 'NOT HEALTHY') : '';
    const cols = [
      s.name.padEnd(15),
      s.state.padEnd(8),
      s.pid ? `pid ${s.pid}`.padEnd(11) : ''.padEnd(11),
      (s.address ?? '').padEnd(22),
      health.padEnd(12),
      s.log ? `log ${s.log}` : '',
    ];
    process.stdout.write(cols.join(' ').trimEnd() + '\n');
  }
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  const [cmd, ...names] = rest;
  const known = new Set<string>([...SERVICES, ...OPTIONAL_SERVICES]);
  const takesNames = cmd === 'start' || cmd === 'stop' || cmd === 'install';
  if (
    !['start', 'stop', 'install', 'status', 'promote-replica', 'reset-mariadb'].includes(cmd) ||
    (!takesNames && names.length) ||
    names.some((n) => !known.has(n))
  ) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const stack = new LocalStack();

  // System packages only (test/run.sh, a fresh machine); start does this for what it launches.
  if (cmd === 'install') {
    await stack.install(names.length ? (names as ServiceName[]) : undefined);
    return 0;
  }

  // Named services: one by one, in the order given (the replica after its primary).
  if (takesNames && names.length) {
    for (const n of names as ServiceName[]) await (cmd === 'start' ? stack.startService(n) : stack.stopService(n));
    const services = await stack.status();
    if (json) process.stdout.write(JSON.stringify({ services, mariadb: stack.mariadbEndpoints() }, null, 2) + '\n');
    else printStatus(services);
    return 0;
  }

  if (cmd === 'promote-replica') {
    const r = await stack.promoteReplica();
    process.stdout.write(json ? JSON.stringify(r) + '\n' : `gtid_current_pos=${r.gtidPos}\n`);
    return 0;
  }

  if (cmd === 'reset-mariadb') {
    await stack.resetMariadb();
    return 0;
  }

  if (cmd === 'start') {
    const t0 = Date.now();
    const endpoints = await stack.start();
    const services = await stack.status();
    const maria = stack.mariadbEnabled() ? stack.mariadbEndpoints() : undefined;
    if (json) {
      process.stdout.write(
        JSON.stringify({ endpoints, services, ...(maria ? { mariadb: maria } : {}) }, null, 2) + '\n',
      );
    } else {
      process.stderr.write(`[stack] all services ready in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
      process.stdout.write(
        [
          `DATABASE_URL=${endpoints.databaseUrl}`,
          `SLUICE_DEMO_SOURCE_URL=${endpoints.demoSourceUrl}`,
          `SLUICE_DEMO_DEST_URL=${endpoints.demoDestUrl}`,
          `REDIS_URL=${endpoints.redisUrl}`,
          `KAFKA_BROKERS=${endpoints.kafkaBrokers.join(',')}`,
          `SLUICE_HOME=${endpoints.home}`,
          ...(maria ? [`MYSQL_URL=${maria.mysqlUrl}`] : []), // the replica: `status` or --json
          '',
        ].join('\n'),
      );
    }
    return 0;
  }

  if (cmd === 'stop') {
    await stack.stop();
    if (json) process.stdout.write(JSON.stringify({ services: await stack.status() }, null, 2) + '\n');
    return 0;
  }

  const services = await stack.status();
  if (json) process.stdout.write(JSON.stringify({ endpoints: stack.endpoints(), services }, null, 2) + '\n');
  else printStatus(services);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[stack] error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
