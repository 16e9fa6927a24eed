// Scenario f: poison records go to the DLQ after max_retries while the rest flows; after the fix,
// replay delivers them. Also: a throwing map_filter transform (isolated-vm sandbox) sends the record to the DLQ.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, spawnWorker, status, teardown, waitFor, Worker } from './harness';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({
    ddl: `CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);`,
    transforms: [{ kind: 'map_filter', config: { code: `function transform(e) { if (e.after && e.after.note === 'boom') throw new Error('boom row'); if (e.after && e.after.note === 'spin') { while (true) {} } return e; }`, timeout_ms: 50 } }],
    pipeline: { delivery: { max_retries: 3, backoff_initial_ms: 50, backoff_max_ms: 200 } },
  });
  // The destination rejects negative values: a constraint the source does not have.
  await q(s.dstUrl, `CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL CHECK (v >= 0), note text)`);
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('f. poison records: DLQ after max_retries, the rest flows, replay after the fix delivers them', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT CASE WHEN g % 50 = 0 THEN -g ELSE g END, 'r' || g FROM generate_series(1, 500) g`);
  await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (1, 'boom'), (2, 'spin')`);
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'after' FROM generate_series(1, 100) g`);
  // Healthy rows flow: everything but the 10 negative rows and the 2 transform failures.
  await assertConverges(s, 'events', ['id', 'v', 'note'], { key: 'id', timeoutMs: 60000, srcWhere: `WHERE v >= 0 AND note NOT IN ('boom','spin')` });
  const dlq = await waitFor('12 in DLQ', async () => { const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?page_size=100`); return r.body.total === 12 ? r.body : null; }, 30000);
  const classes = new Set(dlq.items.map((x: any) => x.error_class));
  assert.ok(classes.has('pg_23514'), `check violation class: ${[...classes]}`);
  assert.ok(classes.has('transform_error'));
  assert.ok(dlq.items.every((x: any) => x.attempts === 4 && x.topic.endsWith('.public.events') && Number.isInteger(x.offset)));
  assert.equal((await status(s)).dlq.count, 12);
  // Fix the destination and the transform, then replay everything.
  await q(s.dstUrl, `ALTER TABLE events DROP CONSTRAINT events_v_check`);
  const t = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}`)).body.transform_ids[0];
  const sinceBefore = (await status(s)).since;
  const upd = await s.api.call('PATCH', `/v1/transforms/${t}`, { config: { code: 'function transform(e) { return e; }' } });
  assert.equal(upd.status, 200, upd.text);
  // The runner restarts on the configuration change; replaying before that would meet the old transform.
  await waitFor('runner restarted with new transform', async () => { const st = await status(s); return st.state === 'Active' && st.since !== sinceBefore; }, 30000);
  const rp = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/dlq/replay`, { all: true });
  assert.equal(rp.status, 202, rp.text);
  assert.equal(rp.body.replay_requested, 12);
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 30000 });
  await waitFor('DLQ empty', async () => (await status(s)).dlq.count === 0, 10000);
  const replayed = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?status=replayed&page_size=100`);
  assert.equal(replayed.body.total, 12);
  // Discard: a new poison record, discarded through the API.
  await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (3, 'ok')`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const v = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`);
  assert.equal(v.status, 200);
  assert.equal(v.body.pass, true, JSON.stringify(v.body.checks));
});
