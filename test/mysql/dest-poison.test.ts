// Scenario f, Postgres -> MariaDB: values the MariaDB table rejects (a CHECK constraint, a string
// longer than its VARCHAR: strict mode, never truncated) go to the DLQ after max_retries while the
// rest flows; after the fix, replay delivers them and verify passes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, spawnWorker, status, teardown, waitFor, Worker } from '../dataplane/harness';
import { freshMysqlDatabase, mysqlQuery } from '../mysql-helpers';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({
    ddl: `CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);`,
    dstUrl: await freshMysqlDatabase('dst_poison'), destinationKind: 'mysql',
    pipeline: { delivery: { max_retries: 3, backoff_initial_ms: 50, backoff_max_ms: 200 } },
  });
  await mysqlQuery(s.dstUrl, 'CREATE TABLE events (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(10), CONSTRAINT v_nonneg CHECK (v >= 0))');
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('f. poison records into MariaDB: DLQ after max_retries, the rest flows, replay after the fix delivers them', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT CASE WHEN g % 50 = 0 THEN -g ELSE g END, CASE WHEN g % 100 = 7 THEN 'much too long ' || g ELSE 'r' || g END FROM generate_series(1, 500) g`);
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'after' FROM generate_series(1, 100) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 60000, srcWhere: `WHERE v >= 0 AND length(note) <= 10` });
  const dlq = await waitFor('15 in DLQ', async () => { const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?page_size=100`); return r.body.total === 15 ? r.body : null; }, 30000);
  const classes = new Set(dlq.items.map((x: any) => x.error_class));
  // MariaDB's error numbers: 1406 data too long, 4025 CHECK constraint failed.
  assert.deepEqual([...classes].sort(), ['mysql_1406', 'mysql_4025']);
  assert.ok(dlq.items.every((x: any) => x.attempts === 4 && x.topic.endsWith('.public.events') && Number.isInteger(x.offset)));
  // Nothing was truncated into the table.
  assert.equal(Number((await mysqlQuery(s.dstUrl, `SELECT COUNT(*) AS n FROM events WHERE note LIKE 'much too%'`))[0].n), 0);
  assert.equal((await status(s)).dlq.count, 15);
  await mysqlQuery(s.dstUrl, 'ALTER TABLE events DROP CONSTRAINT v_nonneg, MODIFY note VARCHAR(100)');
  const rp = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/dlq/replay`, { all: true });
  assert.equal(rp.status, 202, rp.text);
  assert.equal(rp.body.replay_requested, 15);
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 30000 });
  await waitFor('DLQ empty', async () => (await status(s)).dlq.count === 0, 10000);
  assert.equal((await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?status=replayed&page_size=100`)).body.total, 15);
  const v = await waitFor('verify passes', async () => { const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`); return r.body.pass ? r.body : null; }, 20000, 1000);
  assert.ok(v.checks.some((c: any) => c.check === 'row_count' && c.table === 'public.events' && c.detail === 'source 600, destination 600'), JSON.stringify(v.checks));
});
