// Scenario d: kill -9 of the worker that holds the pipeline, mid-stream and mid-snapshot: the other
// worker takes over within 30 s, the snapshot resumes from its last chunk, nothing is lost.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, sleep, spawnWorker, startLoad, status, teardown, waitFor, Worker } from './harness';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({
    ddl: `CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);
          CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note text);`,
    source: { snapshot_chunk_size: 500 },
  });
  workers.push(spawnWorker(s.api), spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

const holder = async () => {
  const st = await status(s);
  const pid = Number(String(st.worker_id ?? '').split(':')[1]);
  return workers.find((w) => w.proc.pid === pid && w.proc.exitCode === null && w.proc.signalCode === null);
};

test('d1. kill -9 mid-stream: another worker takes over within 30 s, nothing lost', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'seed' FROM generate_series(1, 100) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  await waitFor('Active', async () => (await status(s)).state === 'Active', 30000);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200, maxOps: 20000 });
  await sleep(2000);
  const victim = await waitFor('holder', holder, 10000);
  victim.proc.kill('SIGKILL');
  const t0 = Date.now();
  await waitFor('takeover', async () => { const h = await holder(); const st = await status(s); return h && h !== victim && st.state === 'Active'; }, 30000, 250);
  const took = Date.now() - t0;
  assert.ok(took < 30000, `takeover after ${took} ms`);
  await sleep(1500);
  await load.stop();
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  workers.push(spawnWorker(s.api)); // back to two workers
});

test('d2. kill -9 mid-snapshot: the snapshot resumes from its last chunk, nothing lost', async () => {
  await q(s.srcUrl, `INSERT INTO big SELECT g, g, 'row ' || g FROM generate_series(1, 60000) g`);
  await assertConverges(s, 'big', ['id', 'v', 'note'], { timeoutMs: 60000 }); // streamed
  // A fresh snapshot of big (as after a TRUNCATE at the destination) while streaming continues.
  await q(s.dstUrl, `DELETE FROM big`);
  const r = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/snapshots`, { tables: ['public.big'] });
  assert.equal(r.status, 202, r.text);
  const sid = r.body.id;
  const load = startLoad(s.srcUrl, 'events', { perSecond: 100, maxOps: 20000 });
  const prog = async () => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/snapshots/${sid}`)).body;
  await waitFor('snapshot under way', async () => (await prog()).rows_done >= 10000, 60000, 100);
  const rowsAtKill = (await prog()).rows_done;
  const victim = await waitFor('holder', holder, 10000);
  await q(s.srcUrl, `UPDATE big SET v = -v WHERE id % 1000 = 0`);
  victim.proc.kill('SIGKILL');
  await waitFor('snapshot done', async () => (await prog()).status === 'done', 120000, 250);
  const done = await prog();
  assert.equal(done.progress['public.big'].done, true);
  // Resumed, not restarted: the total read is at most a chunk or so more than the table.
  assert.ok(done.rows_done >= 60000 && done.rows_done <= 60000 + 2 * 500, `rows read ${done.rows_done} (killed at ${rowsAtKill})`);
  await load.stop();
  await assertConverges(s, 'big', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await assertConverges(s, 'events', ['id', 'v', 'note']);
});
