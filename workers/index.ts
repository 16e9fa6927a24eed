import crypto from 'node:crypto';
import os from 'node:os';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { Logger } from 'pino';
import { SluiceConfig } from '../core/config';
import { sleep } from '../core/retry';
import { SecretBox } from '../core/secrets';
import { installedPatches, kafkajs, pgLogicalReplication } from '../patches';
import { openControlDb } from './control-db';
import { workerMetricsText } from './sink-thread';
import { RunnerHost, RunnerJobData } from './runner-host';
import { CONTROL_QUEUE, RUNNERS_QUEUE, Supervisor } from './supervisor';
import http from 'node:http';

/**
 * BullMQ key prefix: one per control DB, so Sluice installations (or test runs) that share a Redis
 * never take each other's runner jobs.
 */
export function queuePrefix(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  return `sluice:${crypto
    .createHash('sha256')
    .update(`${u.hostname}:${u.port || 5432}/${u.pathname.slice(1)}`)
    .digest('hex')
    .slice(0, 12)}`;
}

/**
 * A worker process. It takes pipeline runner jobs from BullMQ (see RunnerHost for the fence that
 * makes a runner exclusive) and, when the scheduler picks it, runs the supervisor's reconcile tick.
 * A worker killed with kill -9 stops renewing its job locks: BullMQ's stalled check hands its jobs
 * to another worker within lockDuration + stalledInterval, and the dead session's advisory locks are
 * already gone. Resolves after a graceful shutdown (flush, ack, release) once `signal` aborts.
 */
export async function runWorker(cfg: SluiceConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const workerId = `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  const tickMs = Number(process.env.SLUICE_RECONCILE_MS ?? 1000);
  const graceMs = Number(process.env.SLUICE_BROKEN_GRACE_MS ?? 30000);
  const partitions = Number(process.env.SLUICE_TOPIC_PARTITIONS ?? 1);
  const maxRunners = Number(process.env.SLUICE_WORKER_MAX_RUNNERS ?? 100);
  // kill -9 takeover bound: a lock expires after LOCK_MS, the stalled check runs every LOCK_MS / 2.
  const lockMs = Number(process.env.SLUICE_RUNNER_LOCK_MS ?? 10000);
  const wlog = log.child({ worker_id: workerId });
  let ds = null as Awaited<ReturnType<typeof openControlDb>> | null;
  for (let attempt = 1; !signal.aborted && !ds; attempt++) {
    try {
      ds = await openControlDb(cfg.databaseUrl, { poolSize: 10 });
    } catch (e) {
      wlog.warn({ err: (e as Error).message }, 'control DB not reachable; retrying');
      await sleep(Math.min(5000, 500 * attempt), signal);
    }
  }
  if (!ds) return;
  const secrets = SecretBox.load(cfg.home, cfg.secretKey);
  // Prometheus metrics of this worker (events in/out, write latency, retries, DLQ, lag) when asked for.
  let metricsServer: http.Server | null = null;
  const metricsPort = Number(process.env.SLUICE_WORKER_METRICS_PORT ?? 0);
  if (metricsPort > 0) {
    metricsServer = http
      .createServer(async (req, res) => {
        if (req.url !== '/metrics') {
          res.statusCode = 404;
          res.end();
          return;
        }
        const m = await workerMetricsText();
        res.setHeader('Content-Type', m.contentType);
        res.end(m.text);
      })
      .listen(metricsPort, process.env.SLUICE_WORKER_METRICS_HOST ?? '127.0.0.1');
    metricsServer.on('error', (e) => wlog.warn({ err: e.message }, 'worker metrics server failed'));
  }
  const connection = new IORedis(cfg.redisUrl, {
    maxRetriesPerRequest: null,
    retryStrategy: (n) => Math.min(5000, 200 * n),
  });
  connection.on('error', (e) => wlog.warn({ err: e.message }, 'Redis connection error; BullMQ retries'));
  const prefix = queuePrefix(cfg.databaseUrl);
  const host = new RunnerHost({
    ds,
    secrets,
    databaseUrl: cfg.databaseUrl,
    logLevel: cfg.logLevel,
    kafkaBrokers: cfg.kafkaBrokers,
    log: wlog,
    workerId,
    graceMs,
    partitions,
  });
  const runnersQueue = new Queue<RunnerJobData>(RUNNERS_QUEUE, { connection, prefix });
  const controlQueue = new Queue(CONTROL_QUEUE, { connection, prefix });
  const supervisor = new Supervisor({ ds, runners: runnersQueue, log: wlog });
  const runners = new Worker<RunnerJobData>(RUNNERS_QUEUE, host.process, {
    connection,
    prefix,
    concurrency: maxRunners,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
    maxStalledCount: 1_000_000,
  });
  const control = new Worker(CONTROL_QUEUE, () => supervisor.reconcile(), {
    connection,
    prefix,
    concurrency: 1,
    removeOnComplete: { count: 10 },
    removeOnFail: { count: 10 },
  });
  for (const w of [runners, control]) w.on('error', (e) => wlog.warn({ err: e.message }, 'BullMQ worker error'));
  control.on('failed', (_job, e) => wlog.warn({ err: e.message }, 'reconcile failed'));
  // Every worker upserts the same scheduler: one reconcile job per tick however many workers run.
  const registerScheduler = () =>
    controlQueue.upsertJobScheduler('reconcile', { every: tickMs }, { name: 'reconcile' }).then(
      () => true,
      (e) => {
        wlog.warn({ err: (e as Error).message }, 'could not register the reconcile scheduler; will retry');
        return false;
      },
    );
  let registered = await registerScheduler();
  // Patches install when a patched library is first loaded: load both now, so a mismatch stops the worker at once.
  kafkajs();
  pgLogicalReplication();
  wlog.info(
    { kafka: cfg.kafkaBrokers, metrics_port: metricsPort || null, queue_prefix: prefix, patches: installedPatches() },
    'worker started',
  );

  while (!signal.aborted) {
    if (!registered) registered = await registerScheduler();
    await host.watch().catch((e) => wlog.warn({ err: (e as Error).message }, 'watch failed'));
    await sleep(tickMs, signal);
  }
  wlog.info({ runners: host.size }, 'worker stopping: flushing, acknowledging and releasing runners');
  await control.close();
  // close() stops fetching new runner jobs at once and then waits for the active ones to return.
  const closing = runners.close();
  host.stopAll('worker shutdown');
  await closing;
  await Promise.all([runnersQueue.close(), controlQueue.close()]);
  connection.disconnect();
  await ds.close();
  metricsServer?.close();
  wlog.info('worker stopped');
}
