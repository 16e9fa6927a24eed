// A destination that is up but refuses connections (Postgres: ALLOW_CONNECTIONS false, SQLSTATE
// 55000 "not currently accepting connections") is an outage, not a rejected record. Found by
// bench/pipeline's backlog part: every record of a 10M-row backlog went to the DLQ, one at a time,
// after max_retries, so the drain never finished.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertConverges, q, setupPipeline, Setup, sleep, spawnWorker, teardown, waitFor, Worker } from './harness';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({
    ddl: `CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);`,
    pipeline: { delivery: { max_retries: 2, backoff_initial_ms: 50, backoff_max_ms: 200 } },
  });
  workers.push(spawnWorker(s.api));
});
after(async () => {
  if (s) await q(s.srcUrl, `ALTER DATABASE "${dstDb()}" ALLOW_CONNECTIONS true`).catch(() => undefined);
  await teardown(s, workers);
});

const dstDb = () => decodeURIComponent(new URL(s.dstUrl).pathname.slice(1));

test('a destination refusing connections holds the records back (no DLQ) and gets them all once it accepts', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'before' FROM generate_series(1, 50) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 60000 });
  // Same server as the source: refuse new connections to the destination database and end its sessions.
  await q(s.srcUrl, `ALTER DATABASE "${dstDb()}" ALLOW_CONNECTIONS false`);
  await q(s.srcUrl, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dstDb()]);
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'while refused' FROM generate_series(51, 250) g`);
  const dlqTotal = async () => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?page_size=1`)).body.total;
  const st = await waitFor(
    'the destination reported unreachable (or records in the DLQ)',
    async () => {
      const x = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/status`)).body;
      return x.state === 'Broken' || (await dlqTotal()) > 0 ? x : null;
    },
    60000,
    250,
  );
  // Many more attempts than max_retries (2, backoff <= 200 ms) while it stays refused.
  await sleep(3000);
  assert.equal(await dlqTotal(), 0, 'records went to the DLQ while the destination refused connections');
  assert.equal(st.state, 'Broken');
  assert.match(String(st.reason), /destination_unreachable/);
  await q(s.srcUrl, `ALTER DATABASE "${dstDb()}" ALLOW_CONNECTIONS true`);
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 90000 });
  assert.equal(await dlqTotal(), 0);
});
