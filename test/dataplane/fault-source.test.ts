// Scenario b: the source Postgres (its own server here, so the control DB stays up) is stopped:
// the pipeline turns Broken, reconnects by itself and resumes from the acknowledged LSN.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, sleep, spawnWorker, startLoad, status, teardown, waitFor, Worker } from './harness';
import { freePort, PgInstance } from './pg-instance';

const OUTAGE_MS = Number(process.env.SLUICE_TEST_OUTAGE_MS ?? 10000);
let s: Setup;
let src: PgInstance;
const workers: Worker[] = [];
before(async () => {
  src = new PgInstance(await freePort());
  await src.init();
  await q(src.url, 'CREATE DATABASE src');
  s = await setupPipeline({ ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text)', srcUrl: src.urlFor('src') });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); await src?.destroy(); });

test('b. source stopped: Broken, reconnects by itself, resumes from the acknowledged LSN', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'seed' FROM generate_series(1, 100) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200 });
  await sleep(1500);
  const before = (await q(s.srcUrl, `SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots WHERE slot_name = $1`, [s.slot]))[0].c;
  const t0 = Date.now();
  await src.stop();
  const st = await waitFor('Broken', async () => { const x = await status(s); return x.state === 'Broken' ? x : null; }, 20000);
  assert.match(st.reason, /source_unreachable/);
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - t0)));
  await src.start();
  await waitFor('Active again', async () => (await status(s)).state === 'Active', 30000);
  await sleep(1500);
  const { ops } = await load.stop();
  assert.ok(ops > 300, `load ran (${ops} ops)`);
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 60000 });
  const after = (await q(s.srcUrl, `SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots WHERE slot_name = $1`, [s.slot]))[0].c;
  assert.notEqual(after, before, 'the slot advanced after the restart');
  assert.equal((await status(s)).dlq.count, 0);
});
