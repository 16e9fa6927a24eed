// node dist/stack/cli.js start|stop|status [--json]
// Progress goes to stderr, results to stdout, so `--json` output can be piped.
import { LocalStack, ServiceStatus } from './stack';

const USAGE = 'usage: node dist/stack/cli.js start|stop|status [--json]';

function printStatus(services: ServiceStatus[]): void {
  for (const s of services) {
    const health = s.state === 'running' ? (s.healthy ? 'healthy' : 'NOT HEALTHY') : '';
    const cols = [s.name.padEnd(9), s.state.padEnd(8), s.pid ? `pid ${s.pid}`.padEnd(11) : ''.padEnd(11), (s.address ?? '').padEnd(22), health.padEnd(12), s.log ? `log ${s.log}` : ''];
    process.stdout.write(cols.join(' ').trimEnd() + '\n');
  }
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  const cmd = rest[0];
  if (rest.length !== 1 || !['start', 'stop', 'status'].includes(cmd)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const stack = new LocalStack();

  if (cmd === 'start') {
    const t0 = Date.now();
    const endpoints = await stack.start();
    const services = await stack.status();
    if (json) {
      process.stdout.write(JSON.stringify({ endpoints, services }, null, 2) + '\n');
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
