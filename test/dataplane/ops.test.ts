// Pause, resume and restart from the API; consumer groups with per-partition lag; worker metrics;
// SIGTERM shuts a worker down gracefully and another one carries on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConverges,
  q,
  setupPipeline,
  Setup,
  spawnWorker,
  status,
  stopWorker,
  teardown,
  waitFor,
  Worker,
  waitActive,
} from './harness';
import { freePort } from './pg-instance';

let s: Setup;
const workers: Worker[] = [];
let metricsPort = 0;
before(async () => {
  s = await setupPipeline({
    ddl: `CREATE TABLE t (id serial PRIMARY KEY, v int); INSERT INTO t (v) SELECT g FROM generate_series(1, 10) g;`,
  });
  metricsPort = await freePort();
  workers.push(spawnWorker(s.api, { SLUICE_WORKER_METRICS_PORT: String(metricsPort) }));
});
after(async () => {
  await teardown(s, workers);
});

test('pause stops delivery (Paused), resume catches up, restart starts a new runner', async () => {
  await assertConverges(s, 't', ['id', 'v']);
  await waitActive(s);
  assert.equal((await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/pause`)).status, 200);
  await waitFor('Paused', async () => (await status(s)).state === 'Paused', 20000);
  await q(s.srcUrl, `INSERT INTO t (v) SELECT g FROM generate_series(100, 150) g`);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await q(s.dstUrl, `SELECT count(*)::int AS n FROM t`))[0].n, 10, 'nothing delivered while paused');
  assert.equal((await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/resume`)).status, 200);
  await assertConverges(s, 't', ['id', 'v']);
  const before = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/status`)).body;
  const r = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/restart`);
  assert.equal(r.status, 202);
  await waitFor(
    'restarted',
    async () => {
      const st = await status(s);
      return st.state === 'Active' && st.since !== before.since;
    },
    20000,
  );
  await q(s.srcUrl, `INSERT INTO t (v) VALUES (999)`);
  await assertConverges(s, 't', ['id', 'v']);
});

test('consumer groups report per-partition lag; worker metrics are served', async () => {
  const g = await s.api.call('GET', '/v1/consumer-groups');
  assert.equal(g.status, 200, g.text);
  const mine = g.body.items.find((x: any) => x.pipeline_id === s.pipelineId);
  assert.ok(mine, 'group of the pipeline listed');
  assert.equal(mine.group, `sluice-${s.pipelineId}`);
  assert.ok(mine.partitions.length >= 1 && mine.partitions.every((p: any) => typeof p.lag === 'number'));
  assert.equal(mine.lag, 0);
  const m = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  for (const name of [
    'sluice_events_in_total',
    'sluice_events_out_total',
    'sluice_destination_write_seconds',
    'sluice_replication_lag_bytes',
  ])
    assert.match(m, new RegExp(name));
});

test('SIGTERM: the worker flushes, acknowledges, releases; a second worker carries on', async () => {
  const second = spawnWorker(s.api);
  workers.push(second);
  await stopWorker(workers[0], 'SIGTERM');
  assert.equal(workers[0].proc.exitCode, 0, 'graceful exit');
  await q(s.srcUrl, `INSERT INTO t (v) SELECT g FROM generate_series(2000, 2100) g`);
  await assertConverges(s, 't', ['id', 'v'], { timeoutMs: 40000 });
  const st = await status(s);
  assert.ok(String(st.worker_id).includes(`:${second.proc.pid}:`));
});
