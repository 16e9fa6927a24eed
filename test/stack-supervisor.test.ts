// The supervisor over a registry it has never seen: two throwaway services (real detached node
// HTTP servers) written the way docs/architecture.md says a new service is added, one module and
// one registry line each. Start order, idempotence, a crash, a port taken by a stranger, an
// external service, and a stop that leaves no process behind.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServiceContext, ServicePort, StackService } from '../stack/service';
import { Daemon } from '../stack/shared/daemon';
import { envPort, envSet, findRepoRoot } from '../stack/shared/env';
import { pidAlive } from '../stack/shared/proc';
import { hostPort } from '../stack/shared/urls';
import { Registry, Supervisor } from '../stack/supervisor';

const SERVER = `require('http').createServer((q, r) => r.end('ok')).listen(Number(process.argv[1]), '127.0.0.1')`;

/** A service module as a new one would be written: an HTTP server on one port. */
function httpService(ctx: ServiceContext, opts: { port: ServicePort; externalEnv?: string; after?: string[] }) {
  const marker = path.join(ctx.dir, 'marker');
  const url = () => (opts.externalEnv && envSet(opts.externalEnv)) || `http://127.0.0.1:${opts.port.port}/`;
  const daemon = new Daemon(ctx, {
    pidFile: () => path.join(ctx.dir, 'server.pid'),
    marker: () => marker,
    word: marker,
    stopTimeoutMs: 5000,
  });
  return {
    name: ctx.name,
    ports: [opts.port],
    externalEnv: opts.externalEnv,
    after: opts.after,
    startTimeoutMs: 20_000,
    missing: () => [],
    pid: (clean?: boolean) => daemon.pid(clean),
    start: async () => {
      fs.mkdirSync(ctx.dir, { recursive: true });
      return daemon.spawn(process.execPath, ['-e', SERVER, String(opts.port.port), marker], ctx.dir);
    },
    check: async () => {
      const r = await fetch(url(), { signal: AbortSignal.timeout(2000) });
      if (r.status !== 200) throw new Error(`answered ${r.status}`);
    },
    stop: () => daemon.stop(),
    kill: () => daemon.kill(),
    reset: () => fs.rmSync(ctx.dir, { recursive: true, force: true }),
    address: () => hostPort(url(), 80),
    endpoints: () => ({ url: url() }),
  } satisfies StackService;
}

async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('stack supervisor over a registry of new services', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-supervisor-'));
  const lines: string[] = [];
  let sv: Supervisor<Registry>;
  let ports: number[];
  const byName = async () => Object.fromEntries((await sv.status()).map((s) => [s.name, s]));

  before(async () => {
    ports = [await freePort(), await freePort()];
    process.env.SUPERVISOR_TEST_A_PORT = String(ports[0]);
    const registry = {
      first: {
        create: (ctx: ServiceContext) =>
          httpService(ctx, { port: envPort('SUPERVISOR_TEST_A_PORT', 1), externalEnv: 'SUPERVISOR_TEST_A_URL' }),
      },
      second: {
        create: (ctx: ServiceContext) =>
          httpService(ctx, { port: { env: 'SUPERVISOR_TEST_B_PORT', port: ports[1] }, after: ['first'] }),
        enabledBy: 'SUPERVISOR_TEST_B',
      },
    } satisfies Registry;
    sv = new Supervisor(registry, { home, repo: findRepoRoot(), log: (l) => lines.push(l) });
  });

  after(async () => {
    delete process.env.SUPERVISOR_TEST_A_URL;
    await sv.stop().catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it(
    'starts the default set only, then the optional one after its ' + 'dependency, and a second start changes nothing',
    async () => {
      await sv.start();
      let st = await byName();
      assert.deepEqual(Object.keys(st), ['first'], 'an optional service never used in this home is not listed');
      assert.equal(st.first.state, 'running');
      assert.equal(st.first.healthy, true);
      assert.equal(st.first.address, `127.0.0.1:${ports[0]}`);
      assert.equal(st.first.log, path.join(home, 'logs', 'first.log'));

      process.env.SUPERVISOR_TEST_B = '1';
      try {
        await sv.stop();
        lines.length = 0;
        await sv.start();
        st = await byName();
        assert.deepEqual([st.first.state, st.second.state], ['running', 'running']);
        const ready = lines.findIndex((l) => l.startsWith('first: ready'));
        const launched = lines.findIndex((l) => l.startsWith('second: started pid'));
        assert.ok(ready >= 0 && launched > ready, `second starts after first is ready:\n${lines.join('\n')}`);
        const pids = [st.first.pid, st.second.pid];
        await sv.start();
        st = await byName();
        assert.deepEqual([st.first.pid, st.second.pid], pids);
      } finally {
        delete process.env.SUPERVISOR_TEST_B;
      }
      assert.ok((await byName()).second, 'an optional service with a data dir stays listed');
    },
  );

  it('a killed service is restarted by startService with a new process', async () => {
    const before = (await byName()).first.pid!;
    await sv.killService('first');
    assert.equal(pidAlive(before), false);
    assert.equal((await byName()).first.state, 'stopped');
    await sv.startService('first');
    const st = (await byName()).first;
    assert.equal(st.state, 'running');
    assert.notEqual(st.pid, before);
  });

  it('a port taken by another process is refused, naming the port and its variable', async () => {
    await sv.stopService('second');
    const squatter = net.createServer().listen(ports[1], '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    try {
      await assert.rejects(
        sv.startService('second'),
        new RegExp(`second: port ${ports[1]} is already in use .*set SUPERVISOR_TEST_B_PORT`),
      );
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it(
    'an external service is reported and used, never started or stopped; ' + 'what runs against it is left out',
    async () => {
      const pid = (await byName()).first.pid!;
      process.env.SUPERVISOR_TEST_A_URL = `http://127.0.0.1:${ports[0]}/`;
      process.env.SUPERVISOR_TEST_B = '1';
      try {
        const st = await byName();
        assert.deepEqual({ ...st.first }, { name: 'first', state: 'external', address: `127.0.0.1:${ports[0]}` });
        await assert.rejects(sv.stopService('first'), /first is external \(127\.0\.0\.1:\d+\); not managed here/);
        lines.length = 0;
        await sv.start();
        assert.ok(
          lines.some((l) => l.startsWith('first: external')),
          lines.join('\n'),
        );
        assert.ok(
          lines.some((l) => l.startsWith('second: not started (it runs against the local first')),
          lines.join('\n'),
        );
        await sv.stop();
        assert.ok(pidAlive(pid), 'stop() left the external service alone');
      } finally {
        delete process.env.SUPERVISOR_TEST_A_URL;
        delete process.env.SUPERVISOR_TEST_B;
      }
    },
  );

  it('stop leaves no process behind, and reset deletes the data dir', async () => {
    await sv.startService('second');
    const pids = Object.values(await byName()).map((s) => s.pid!);
    assert.equal(pids.length, 2);
    await sv.stop();
    assert.deepEqual(pids.filter(pidAlive), []);
    assert.deepEqual(
      (await sv.status()).map((s) => s.state),
      ['stopped', 'stopped'],
    );
    await sv.reset(['second']);
    assert.equal(fs.existsSync(path.join(home, 'second')), false);
  });
});
