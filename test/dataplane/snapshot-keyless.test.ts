// A table without a primary key is snapshotted as one chunk: every row must arrive (the chunk rows
// cannot be told apart by key, so none may collapse into another).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { q, setupPipeline, Setup, spawnWorker, teardown, waitFor, Worker } from './harness';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({
    ddl: `CREATE TABLE logs (v int, note text); INSERT INTO logs SELECT g % 3, 'n' || g FROM generate_series(1, 25) g;`,
    pipeline: { ingestion_mode: 'append' },
  });
  workers.push(spawnWorker(s.api));
});
after(async () => {
  await teardown(s, workers);
});

test('snapshot of a table without a primary key delivers every row', async () => {
  await waitFor(
    '25 rows delivered',
    async () => Number((await q(s.dstUrl, `SELECT count(*) AS n FROM logs`).catch(() => [{ n: 0 }]))[0].n) >= 25,
    60000,
    500,
  );
  const rows = await q(s.dstUrl, `SELECT note FROM logs ORDER BY substr(note, 2)::int`);
  assert.deepEqual(
    rows.map((r) => r.note),
    Array.from({ length: 25 }, (_, i) => `n${i + 1}`),
  );
});
