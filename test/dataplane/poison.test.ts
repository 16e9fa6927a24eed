// Scenario f: poison records go to the DLQ after max_retries while the rest flows; after the fix,
// replay delivers them. Also: a throwing map_filter transform (isolated-vm sandbox) sends the record to the DLQ.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, sleep, spawnWorker, status, teardown, waitFor, Worker } from './harness';
import { POISON_TRANSFORM, poisonAndReplay } from './scenarios';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({
    ddl: `CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);`,
    transforms: [POISON_TRANSFORM],
    pipeline: { delivery: { max_retries: 3, backoff_initial_ms: 50, backoff_max_ms: 200 } },
  });
  // The destination rejects negative values: a constraint the source does not have.
  await q(s.dstUrl, `CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL CHECK (v >= 0), note text)`);
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('f. poison records: DLQ after max_retries, the rest flows, replay after the fix delivers them', async () => {
  await poisonAndReplay(s);
  // Discard: a new poison record, discarded through the API.
  await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (3, 'ok')`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const v = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`);
  assert.equal(v.status, 200);
  assert.equal(v.body.pass, true, JSON.stringify(v.body.checks));
});

test('a DLQ record whose key a newer change wrote is superseded and never replayed over it', async () => {
  // The destination now rejects large values; the source does not.
  await q(s.dstUrl, `ALTER TABLE events ADD CONSTRAINT events_v_small CHECK (v < 100000)`);
  const [{ id }] = await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (200000, 'too big') RETURNING id`);
  const dlq = await waitFor('poison row in the DLQ', async () => {
    const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?page_size=100`);
    return r.body.items.find((x: any) => x.record.after?.id === id) ?? null;
  }, 30000);
  await q(s.srcUrl, `UPDATE events SET v = 7, note = 'fixed at the source' WHERE id = $1`, [id]);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const sup = await waitFor('superseded', async () => {
    const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?status=superseded&page_size=100`);
    return r.body.items.find((x: any) => x.id === dlq.id) ?? null;
  }, 10000);
  assert.equal(sup.status, 'superseded');
  await q(s.dstUrl, `ALTER TABLE events DROP CONSTRAINT events_v_small`);
  const rp = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/dlq/replay`, { ids: [dlq.id] });
  assert.equal(rp.body.replay_requested, 0, 'a superseded record is not replayed');
  await sleep(1500);
  const [row] = await q(s.dstUrl, `SELECT v, note FROM events WHERE id = $1`, [id]);
  assert.deepEqual(row, { v: 7, note: 'fixed at the source' });
  assert.equal((await status(s)).dlq.count, 0);
});
