// Scenario f: poison records go to the DLQ after max_retries while the rest flows; after the fix,
// replay delivers them. Also: a throwing map_filter transform (isolated-vm sandbox) sends the record to the DLQ.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, spawnWorker, teardown, Worker } from './harness';
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
