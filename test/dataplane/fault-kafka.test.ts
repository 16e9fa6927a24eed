// Scenario c: the Kafka broker is killed (SIGKILL) and restarted: the source stops acknowledging
// (the slot's confirmed LSN holds still while WAL grows), nothing is lost.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStack } from '../../stack/stack';
import { assertConverges, q, setupPipeline, Setup, sleep, spawnWorker, startLoad, status, teardown, waitFor, Worker } from './harness';

let s: Setup;
const workers: Worker[] = [];
const stack = new LocalStack({ log: () => undefined });
// test/run.sh exports KAFKA_BROKERS for the stack it started, which makes LocalStack treat Kafka as
// external: manage it anyway when those brokers are this stack's own port.
const ours = process.env.KAFKA_BROKERS === undefined || process.env.KAFKA_BROKERS === `127.0.0.1:${process.env.SLUICE_KAFKA_PORT ?? 19092}`;
async function local<T>(f: () => Promise<T>): Promise<T> {
  const saved = process.env.KAFKA_BROKERS;
  delete process.env.KAFKA_BROKERS;
  try { return await f(); } finally { if (saved !== undefined) process.env.KAFKA_BROKERS = saved; }
}
before(async () => {
  s = await setupPipeline({ ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text)' });
  workers.push(spawnWorker(s.api));
});
after(async () => { if (ours) await local(() => stack.startService('kafka')).catch(() => undefined); await teardown(s, workers); });

test('c. Kafka killed and restarted: LSN not acknowledged during the outage, nothing lost', { skip: ours ? false : 'Kafka is external (KAFKA_BROKERS): not ours to kill' }, async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'seed' FROM generate_series(1, 100) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200, maxOps: 20000 });
  await sleep(1500);
  await local(() => stack.killService('kafka'));
  await sleep(3000);
  const slot = async () => (await q(s.srcUrl, `SELECT confirmed_flush_lsn::text AS c, pg_current_wal_lsn()::text AS w FROM pg_replication_slots WHERE slot_name = $1`, [s.slot]))[0];
  const a = await slot();
  await sleep(5000);
  const b = await slot();
  assert.equal(b.c, a.c, 'confirmed_flush_lsn must not move while Kafka is down');
  assert.notEqual(b.w, a.w, 'the source kept writing');
  const st = await waitFor('Broken', async () => { const x = await status(s); return x.state === 'Broken' ? x : null; }, 20000);
  assert.match(st.reason, /kafka/i);
  await local(() => stack.startService('kafka'));
  await sleep(2000);
  await load.stop();
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 120000 });
  await waitFor('Active again', async () => (await status(s)).state === 'Active', 60000);
  const c = await slot();
  assert.notEqual(c.c, a.c, 'acknowledging resumed');
  assert.equal((await status(s)).dlq.count, 0);
});
