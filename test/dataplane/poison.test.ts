// The DLQ beyond scenario f (test/conformance/f-poison.test.ts): superseded records are never
// replayed over a newer change, and a poison record holds back only its own key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConverges,
  q,
  setupPipeline,
  Setup,
  sleep,
  spawnWorker,
  status,
  teardown,
  waitFor,
  Worker,
} from './harness';
import { POISON_TRANSFORM } from '../conformance/scenarios';

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
after(async () => {
  await teardown(s, workers);
});

test('a DLQ record whose key a newer change wrote is superseded and never replayed over it', async () => {
  // The destination now rejects large values; the source does not.
  await q(s.dstUrl, `ALTER TABLE events ADD CONSTRAINT events_v_small CHECK (v < 100000)`);
  const [{ id }] = await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (200000, 'too big') RETURNING id`);
  const dlq = await waitFor(
    'poison row in the DLQ',
    async () => {
      const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?page_size=100`);
      return r.body.items.find((x: any) => x.record.after?.id === id) ?? null;
    },
    30000,
  );
  await q(s.srcUrl, `UPDATE events SET v = 7, note = 'fixed at the source' WHERE id = $1`, [id]);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const sup = await waitFor(
    'superseded',
    async () => {
      const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?status=superseded&page_size=100`);
      return r.body.items.find((x: any) => x.id === dlq.id) ?? null;
    },
    10000,
  );
  assert.equal(sup.status, 'superseded');
  await q(s.dstUrl, `ALTER TABLE events DROP CONSTRAINT events_v_small`);
  const rp = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/dlq/replay`, { ids: [dlq.id] });
  assert.equal(rp.body.replay_requested, 0, 'a superseded record is not replayed');
  await sleep(1500);
  const [row] = await q(s.dstUrl, `SELECT v, note FROM events WHERE id = $1`, [id]);
  assert.deepEqual(row, { v: 7, note: 'fixed at the source' });
  assert.equal((await status(s)).dlq.count, 0);
});

test(
  'poison records hold back only their own key: the rest of the batch is ' +
    'written first, and their retries run side by side',
  async () => {
    const sinceBefore = (await status(s)).since;
    const r = await s.api.call('PATCH', `/v1/pipelines/${s.pipelineId}`, {
      delivery: { max_retries: 2, backoff_initial_ms: 2000, backoff_max_ms: 2000 },
    });
    assert.equal(r.status, 200, r.text);
    await waitFor(
      'runner restarted with the new delivery policy',
      async () => {
        const st = await status(s);
        return st.state === 'Active' && st.since !== sinceBefore;
      },
      30000,
    );
    await q(
      s.dstUrl,
      'ALTER TABLE events ADD CONSTRAINT events_v_small CHECK (v < 100000); ' +
        'ALTER TABLE events ADD COLUMN arrived_at timestamptz DEFAULT ' +
        'clock_timestamp()',
    );
    // One transaction: 8 rows the destination rejects, each followed by a healthy row of another key.
    const rows = await q(
      s.srcUrl,
      'INSERT INTO events (v, note) SELECT CASE WHEN g % 2 = 1 THEN 100000 + ' +
        "g ELSE g END, 'mix' || g FROM generate_series(1, 16) g RETURNING id, v",
    );
    const poisonIds = rows.filter((x: any) => x.v >= 100000).map((x: any) => x.id);
    const dlq = await waitFor(
      '8 poison rows in the DLQ',
      async () => {
        const l = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?page_size=100`)).body.items.filter(
          (x: any) => poisonIds.includes(x.record.after?.id),
        );
        return l.length === 8 ? l : null;
      },
      60000,
    );
    const healthy = await q(s.dstUrl, `SELECT max(arrived_at) AS last FROM events WHERE note LIKE 'mix%'`);
    const dlqTimes = (
      await q(s.api.databaseUrl, `SELECT created_at FROM dlq_records WHERE id = ANY($1) ORDER BY created_at`, [
        dlq.map((x: any) => x.id),
      ])
    ).map((x: any) => new Date(x.created_at).getTime());
    assert.ok(
      new Date(healthy[0].last).getTime() < dlqTimes[0],
      'the healthy rows were written before the first poison row reached the DLQ',
    );
    // Each poison row spends >= 2 s in backoff (2 retries, 1 - 2 s each with jitter): one after the
    // other, the 8 would reach the DLQ >= 14 s apart from first to last; side by side, together.
    assert.ok(dlqTimes[7] - dlqTimes[0] < 7000, `DLQ entries spread over ${dlqTimes[7] - dlqTimes[0]} ms`);
    await assertConverges(s, 'events', ['id', 'v', 'note'], { srcWhere: 'WHERE v < 100000' });
  },
);
