// Scenario g: the replication slot is dropped. With on_slot_loss=fail the pipeline turns Broken with
// reason slot_lost; switched to resnapshot it recreates the slot and snapshots every captured table,
// closing the gap: rows inserted or updated meanwhile come with the snapshot, rows deleted meanwhile
// (which a snapshot cannot see) are found by checking the topic's live keys against the table.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, sleep, spawnWorker, startLoad, status, teardown, waitFor, Worker } from './harness';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text)', source: { on_slot_loss: 'fail' } });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

async function dropSlot() {
  await waitFor('slot dropped', async () => {
    await q(s.srcUrl, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, [s.slot]);
    try { await q(s.srcUrl, `SELECT pg_drop_replication_slot($1)`, [s.slot]); return true; } catch (e) { if (/does not exist/.test((e as Error).message)) return true; return false; }
  }, 20000, 50);
}

test('g. slot dropped: detected as slot_lost; resnapshot recreates the slot and closes the gap', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'seed' FROM generate_series(1, 200) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200 });
  await sleep(1000);
  await dropSlot();
  const st = await waitFor('Broken slot_lost', async () => { const x = await status(s); return x.state === 'Broken' ? x : null; }, 20000);
  assert.equal(st.reason, 'slot_lost');
  await sleep(2000); // changes made now are in no slot
  // The load deletes rows too, so take 20 rows that still exist rather than a fixed id pattern.
  const gone = await q(s.srcUrl, `DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT 20) RETURNING id`);
  assert.equal(gone.length, 20);
  const r = await s.api.call('PATCH', `/v1/sources/${s.sourceId}`, { config: { on_slot_loss: 'resnapshot' } });
  assert.equal(r.status, 200, r.text);
  await waitFor('slot recreated', async () => (await q(s.srcUrl, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [s.slot])).length > 0, 20000);
  await sleep(1500);
  // A second loss while on_slot_loss=resnapshot is handled without a person.
  await dropSlot();
  await sleep(1500);
  await load.stop();
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await waitFor('Active', async () => (await status(s)).state === 'Active', 30000);
  const snaps = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/snapshots`);
  const gapSnaps = snaps.body.items.filter((x: any) => x.reason === 'slot_lost' && x.status === 'done');
  assert.ok(gapSnaps.length >= 2, JSON.stringify(snaps.body.items.map((x: any) => [x.reason, x.status])));
  const gapDeletes = gapSnaps.reduce((a: number, x: any) => a + (x.progress['public.events'].gap_deletes ?? 0), 0);
  assert.ok(gapDeletes >= gone.length, `gap deletes ${gapDeletes} cover the ${gone.length} rows deleted while no slot existed`);
});
