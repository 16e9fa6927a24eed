// Redis for BullMQ: loopback only, append-only file so queued jobs survive a restart of Redis.
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type { ServiceContext, StackService } from '../service';
import { Daemon } from '../shared/daemon';
import { envPort, envSet } from '../shared/env';
import { hostPort } from '../shared/urls';
import { installHint } from '../shared/packages';
import { which } from '../shared/run';

function redisPing(port: number, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const finish = (err?: Error) => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(timeoutMs, () => finish(new Error('PING timed out')));
    sock.once('error', (e) => finish(e));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('\r\n')) return;
      // "-LOADING ..." while the AOF/RDB is replayed counts as not ready yet.
      if (buf.startsWith('+PONG')) finish();
      else finish(new Error(`PING answered ${JSON.stringify(buf.trim())}`));
    });
  });
}

export function redis(ctx: ServiceContext) {
  const port = envPort('SLUICE_REDIS_PORT', 16379);
  const url = () => envSet('REDIS_URL') ?? `redis://127.0.0.1:${port.port}`;
  const pidFile = path.join(ctx.dir, 'redis.pid');
  // redis rewrites its title to "redis-server host:port"
  const daemon = new Daemon(ctx, {
    pidFile: () => pidFile,
    marker: () => 'redis-server',
    word: 'redis',
    stopTimeoutMs: 20_000,
  });

  async function start(): Promise<number> {
    fs.mkdirSync(ctx.dir, { recursive: true });
    const conf = path.join(ctx.dir, 'redis.conf');
    fs.writeFileSync(
      conf,
      [
        '# Written by the Sluice local stack on every start.',
        'bind 127.0.0.1',
        `port ${port.port}`,
        'daemonize no',
        `dir ${ctx.dir}`,
        `pidfile ${pidFile}`,
        'logfile ""', // stdout, which is $SLUICE_HOME/logs/redis.log
        // BullMQ state must survive a restart of Redis (fault tests restart it mid-run).
        'appendonly yes',
        'maxmemory-policy noeviction',
        '',
      ].join('\n'),
    );
    const exe = which('redis-server');
    if (!exe) throw new Error(`${ctx.name}: redis-server not found on PATH; ${installHint(ctx.name)}`);
    return daemon.spawn(exe, [conf], ctx.dir);
  }

  return {
    name: ctx.name,
    ports: [port],
    externalEnv: 'REDIS_URL',
    startTimeoutMs: 30_000,
    missing: () => (which('redis-server') ? [] : [{ what: 'redis-server', apt: ['redis-server'] }]),
    pid: (clean?: boolean) => daemon.pid(clean),
    start,
    check: () => redisPing(port.port),
    stop: () => daemon.stop(),
    kill: () => daemon.kill(),
    address: () => hostPort(url(), 6379),
    endpoints: () => ({ redisUrl: url() }),
  } satisfies StackService;
}
