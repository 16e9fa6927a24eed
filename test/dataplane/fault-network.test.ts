// Scenario e: the network between the worker and both databases is cut (connections reset, new
// ones refused), then stalled (connections open, nothing moves): the runners time out, retry and recover.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, env, q, setupPipeline, Setup, sleep, spawnWorker, startLoad, status, teardown, waitFor, Worker } from './harness';
import { TcpProxy } from './tcp-proxy';

let s: Setup;
const workers: Worker[] = [];
const pgPort = Number(new URL(env.databaseUrl).port);
const srcProxy = new TcpProxy(pgPort);
const dstProxy = new TcpProxy(pgPort);
before(async () => {
  await srcProxy.start();
  await dstProxy.start();
  s = await setupPipeline({
    ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text)',
    srcHostPort: { host: '127.0.0.1', port: srcProxy.port }, dstHostPort: { host: '127.0.0.1', port: dstProxy.port },
  });
  workers.push(spawnWorker(s.api, { SLUICE_SOURCE_IDLE_TIMEOUT_MS: '4000', SLUICE_DB_QUERY_TIMEOUT_MS: '4000' }));
});
after(async () => { await teardown(s, workers); await srcProxy.close(); await dstProxy.close(); });

test('e. network cut and stall between worker and databases: retries and recovers', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'seed' FROM generate_series(1, 100) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200 });
  await sleep(1500);
  // Cut: every connection reset, new ones refused.
  srcProxy.cut(); dstProxy.cut();
  const st = await waitFor('Broken during the cut', async () => { const x = await status(s); return x.state === 'Broken' ? x : null; }, 20000);
  assert.match(st.reason, /unreachable/);
  await sleep(2000);
  srcProxy.heal(); dstProxy.heal();
  await waitFor('Active after the cut', async () => (await status(s)).state === 'Active', 30000);
  await sleep(1500);
  // Stall: connections stay open but nothing moves for 10 s.
  srcProxy.stall(); dstProxy.stall();
  await sleep(10000);
  srcProxy.heal(); dstProxy.heal();
  await waitFor('Active after the stall', async () => (await status(s)).state === 'Active', 30000);
  await sleep(1500);
  await load.stop();
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 60000 });
  assert.equal((await status(s)).dlq.count, 0);
});
