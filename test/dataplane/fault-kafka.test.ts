// Scenario c: the Kafka broker is killed (SIGKILL) and restarted: the source stops acknowledging
// (the slot's confirmed LSN holds still while WAL grows), nothing is lost.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStack } from '../../stack/stack';
import { assertConverges, q, setupPipeline, Setup, sleep, spawnWorker, startLoad, status, teardown, waitFor, Worker } from './harness';

let s: Setup;
const workers: Worker[] = [];
const stack = new LocalStack({ log: () => undefined });
before(async () => {
  s = await setupPipeline({ ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text)' });
  workers.push(spawnWorker(s.api));
});
after(async () => { await stack.startService('kafka').catch(() => undefined); await teardown(s, workers); });

test('c. Kafka killed and restarted: LSN not acknowledged during the outage, nothing lost', { skip: process.env.KAFKA_BROKERS && !process.env.SLUICE_HOME ? 'external Kafka' : false }, async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'seed' FROM generate_series(1, 100) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200, maxOps: 20000 });
  await sleep(1500);
  await stack.killService('kafka');
  await sleep(3000);
  const slot = async () => (await q(s.srcUrl, `SELECT confirmed_flush_lsn::text AS c, pg_current_wal_lsn()::text AS w FROM pg_replication_slots WHERE slot_name = $1`, [s.slot]))[0];
  const a = await slot();
  await sleep(5000);
  const b = await slot();
  assert.equal(b.c, a.c, 'confirmed_flush_lsn must not move while Kafka is down');
  assert.notEqual(b.w, a.w, 'the source kept writing');
  const st = await waitFor('Broken', async () => { const x = await status(s); return x.state === 'Broken' ? x : null; }, 20000);
  assert.match(st.reason, /kafka/i);
  await stack.startService('kafka');
  await sleep(2000);
  await load.stop();
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 120000 });
  await waitFor('Active again', async () => (await status(s)).state === 'Active', 60000);
  const c = await slot();
  assert.notEqual(c.c, a.c, 'acknowledging resumed');
  assert.equal((await status(s)).dlq.count, 0);
});
