// Scenario a: the destination Postgres is stopped (default 10 s, SLUICE_TEST_OUTAGE_MS; the issue's
// 30 s works the same), changes are buffered in Kafka and delivered after the restart, DLQ empty.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, sleep, spawnWorker, startLoad, status, teardown, waitFor, Worker } from './harness';
import { freePort, PgInstance } from './pg-instance';

const OUTAGE_MS = Number(process.env.SLUICE_TEST_OUTAGE_MS ?? 10000);
let s: Setup;
let dest: PgInstance;
const workers: Worker[] = [];
before(async () => {
  dest = new PgInstance(await freePort());
  await dest.init();
  await q(dest.url, 'CREATE DATABASE dst');
  s = await setupPipeline({ ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text)', dstUrl: dest.urlFor('dst') });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); await dest?.destroy(); });

test('a. destination stopped: Broken after the grace period, buffered, delivered after restart, DLQ empty', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'seed' FROM generate_series(1, 100) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200, maxOps: 20000 });
  await sleep(1500);
  const t0 = Date.now();
  await dest.stop();
  const st = await waitFor('Broken', async () => { const x = await status(s); return x.state === 'Broken' ? x : null; }, 20000);
  assert.match(st.reason, /destination_unreachable/);
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - t0)));
  const during = (await status(s)).sink.lag;
  await dest.start();
  await sleep(1500);
  const { ops } = await load.stop();
  assert.ok(ops > 500, `load ran (${ops} ops)`);
  assert.ok(during === null || during > 0, 'events were buffered in Kafka during the outage');
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 90000 });
  await waitFor('Active again', async () => (await status(s)).state === 'Active', 20000);
  assert.equal((await status(s)).dlq.count, 0);
});
