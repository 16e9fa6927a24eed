// Orchestration: runners are BullMQ jobs, and the fence keeps a stalled job from ever running twice.
// A worker frozen with SIGSTOP stops renewing its job lock, so BullMQ hands the job to the other
// worker; that worker must not start a second runner while the frozen one still holds the fence.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { loadConfig } from '../../core/config';
import { queuePrefix } from '../../workers';
import { RUNNERS_QUEUE, runnerJobId } from '../../workers/supervisor';
import {
  assertConverges,
  q,
  setupPipeline,
  Setup,
  sleep,
  spawnWorker,
  startLoad,
  status,
  teardown,
  waitFor,
  Worker,
} from './harness';

const LOCK_MS = 3000;
let s: Setup;
let redis: IORedis;
let queue: Queue;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text)' });
  redis = new IORedis(loadConfig().redisUrl, { maxRetriesPerRequest: null });
  queue = new Queue(RUNNERS_QUEUE, { connection: redis, prefix: queuePrefix(s.api.databaseUrl) });
  const env = { SLUICE_RUNNER_LOCK_MS: String(LOCK_MS) };
  workers.push(spawnWorker(s.api, env), spawnWorker(s.api, env));
});
after(async () => {
  for (const w of workers) if (w.proc.signalCode === null && w.proc.exitCode === null) w.proc.kill('SIGCONT');
  await teardown(s, workers);
  await queue?.close();
  redis?.disconnect();
});

const fenceHolders = async () =>
  Number(
    (
      await q(
        s.api.databaseUrl,
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND " +
          "granted AND classid = hashtext('sluice.pipeline')::oid AND objid = " +
          'hashtext($1)::oid',
        [s.pipelineId],
      )
    )[0].n,
  );
const runnerStarts = (w: Worker) =>
  fs
    .readFileSync(w.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"runner started"') && l.includes(s.pipelineId)).length;

test('one BullMQ job per pipeline; a stalled job is handed over but never runs twice', async () => {
  await q(s.srcUrl, `INSERT INTO events (v, note) SELECT g, 'seed' FROM generate_series(1, 50) g`);
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  const job = await queue.getJob(runnerJobId(s.pipelineId));
  assert.ok(job, 'the pipeline has a runner job');
  assert.equal(await job.getState(), 'active');
  assert.equal(await fenceHolders(), 1);

  const st = await status(s);
  const holderPid = Number(String(st.worker_id).split(':')[1]);
  const frozen = workers.find((w) => w.proc.pid === holderPid)!;
  const other = workers.find((w) => w !== frozen)!;
  assert.ok(frozen, 'the status names a worker of this test');
  const otherStartsBefore = runnerStarts(other);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 100 });
  frozen.proc.kill('SIGSTOP');
  // Well past lock expiry and several stalled checks: BullMQ has handed the job to the other worker by now.
  await sleep(LOCK_MS * 4);
  const handedOver = await queue.getJob(runnerJobId(s.pipelineId));
  assert.ok(
    handedOver && ['active', 'delayed', 'waiting'].includes(await handedOver.getState()),
    'the job is still queued or retried, not lost',
  );
  assert.ok(
    handedOver.stalledCounter >= 1,
    `BullMQ saw the frozen worker's job stall (stalledCounter ${handedOver.stalledCounter})`,
  );
  assert.ok(
    handedOver.attemptsStarted > job.attemptsStarted,
    `the job was started again elsewhere (${job.attemptsStarted} -> ${handedOver.attemptsStarted})`,
  );
  assert.equal(runnerStarts(other), otherStartsBefore, 'no second runner while the frozen one holds the fence');
  assert.equal(await fenceHolders(), 1);

  frozen.proc.kill('SIGKILL');
  await waitFor(
    'the other worker takes over',
    async () => runnerStarts(other) > otherStartsBefore && (await status(s)).state === 'Active',
    30000,
    250,
  );
  await sleep(1000);
  await load.stop();
  await assertConverges(s, 'events', ['id', 'v', 'note']);
  assert.equal(await fenceHolders(), 1);
});
