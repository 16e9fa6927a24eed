import crypto from 'node:crypto';
import os from 'node:os';
import { Client } from 'pg';
import { Logger } from 'pino';
import { SluiceConfig } from '../api/config';
import { openControlDb } from '../api/db';
import { SecretBox } from '../api/secrets';
import { PipelineRunner, loadPipeline } from './pipeline';
import { sleep } from './pgconn';
import { registry } from './metrics';
import http from 'node:http';

interface Running {
  id: string;
  signature: string;
  lock: Client;
  abort: AbortController;
  runner: PipelineRunner;
  done: Promise<void>;
  startedAt: Date;
}

/**
 * A worker process. Every reconcile tick it compares desired state (control DB) with the runners it
 * holds. A runner is fenced by two Postgres advisory locks (pipeline and source) held on a
 * dedicated control-DB session: at most one worker anywhere runs a pipeline, and when a worker dies
 * (even kill -9) its session ends, the locks are released and another worker takes over within a
 * tick. Losing the lock session aborts the runner at once. Resolves after a graceful shutdown
 * (flush, ack, release) once `signal` aborts.
 */
export async function runWorker(cfg: SluiceConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const workerId = `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  const tickMs = Number(process.env.SLUICE_RECONCILE_MS ?? 1000);
  const graceMs = Number(process.env.SLUICE_BROKEN_GRACE_MS ?? 30000);
  const partitions = Number(process.env.SLUICE_TOPIC_PARTITIONS ?? 1);
  const wlog = log.child({ worker_id: workerId });
  let ds = null as Awaited<ReturnType<typeof openControlDb>> | null;
  for (let attempt = 1; !signal.aborted && !ds; attempt++) {
    try { ds = await openControlDb(cfg.databaseUrl, { poolSize: 10 }); } catch (e) {
      wlog.warn({ err: (e as Error).message }, 'control DB not reachable; retrying');
      await sleep(Math.min(5000, 500 * attempt), signal);
    }
  }
  if (!ds) return;
  const secrets = SecretBox.load(cfg.home, cfg.secretKey);
  const running = new Map<string, Running>();
  // Prometheus metrics of this worker (events in/out, write latency, retries, DLQ, lag) when asked for.
  let metricsServer: http.Server | null = null;
  const metricsPort = Number(process.env.SLUICE_WORKER_METRICS_PORT ?? 0);
  if (metricsPort > 0) {
    metricsServer = http.createServer(async (req, res) => {
      if (req.url !== '/metrics') { res.statusCode = 404; res.end(); return; }
      res.setHeader('Content-Type', registry.contentType);
      res.end(await registry.metrics());
    }).listen(metricsPort, process.env.SLUICE_WORKER_METRICS_HOST ?? '127.0.0.1');
    metricsServer.on('error', (e) => wlog.warn({ err: e.message }, 'worker metrics server failed'));
  }
  wlog.info({ kafka: cfg.kafkaBrokers, metrics_port: metricsPort || null }, 'worker started');

  const stop = async (r: Running, why: string, final?: 'Paused') => {
    r.abort.abort();
    await r.done;
    if (final) await r.runner.report({ state: final, reason: null }).catch(() => undefined);
    await r.lock.end().catch(() => undefined);
    running.delete(r.id);
    wlog.info({ pipeline_id: r.id, why }, 'runner stopped');
  };

  const tryStart = async (id: string, sourceId: string) => {
    const lock = new Client({ connectionString: cfg.databaseUrl, application_name: `sluice-fence-${id.slice(0, 8)}`, keepAlive: true, connectionTimeoutMillis: 5000 });
    lock.on('error', () => undefined);
    await lock.connect();
    const got = await lock.query(
      `SELECT pg_try_advisory_lock(hashtext('sluice.pipeline'), hashtext($1)) AS p, pg_try_advisory_lock(hashtext('sluice.source'), hashtext($2)) AS s`, [id, sourceId]);
    if (!got.rows[0].p || !got.rows[0].s) { await lock.end().catch(() => undefined); return; }
    const p = await loadPipeline(ds!, secrets, id);
    if (!p || p.desired_state !== 'running') { await lock.end().catch(() => undefined); return; }
    const abort = new AbortController();
    const token = crypto.randomUUID();
    lock.on('error', (e) => { wlog.error({ pipeline_id: id, err: e.message }, 'fence lost: stopping the runner'); abort.abort(); });
    lock.on('end', () => abort.abort());
    const runner = new PipelineRunner(p, { ds: ds!, kafkaBrokers: cfg.kafkaBrokers, log: wlog, workerId, token, graceMs, partitions });
    const r: Running = { id, signature: p.signature, lock, abort, runner, startedAt: new Date(), done: Promise.resolve() };
    r.done = runner.run(abort.signal).catch((e) => { wlog.error({ pipeline_id: id, err: (e as Error).message }, 'runner failed'); }).finally(() => {
      if (running.get(id) === r && !abort.signal.aborted) { abort.abort(); r.lock.end().catch(() => undefined); running.delete(id); }
    });
    running.set(id, r);
    wlog.info({ pipeline_id: id, pipeline: p.name }, 'runner started');
  };

  const reconcile = async () => {
    const rows: { id: string; source_id: string; desired_state: string; restart_requested_at: Date | null }[] = await ds!.query(
      `SELECT p.id, p.source_id, p.desired_state, r.restart_requested_at FROM pipelines p LEFT JOIN pipeline_runtime r ON r.pipeline_id = p.id`);
    const byId = new Map(rows.map((x) => [x.id, x]));
    for (const r of [...running.values()]) {
      const want = byId.get(r.id);
      if (!want) { await stop(r, 'pipeline deleted'); continue; }
      if (want.desired_state !== 'running') { await stop(r, 'paused', 'Paused'); continue; }
      if (want.restart_requested_at && want.restart_requested_at > r.startedAt) { await stop(r, 'restart requested'); continue; }
      const p = await loadPipeline(ds!, secrets, r.id).catch(() => null);
      if (p && p.signature !== r.signature) { await stop(r, 'configuration changed'); continue; }
      // The fence session must still be alive.
      try { await r.lock.query('SELECT 1'); } catch { await stop(r, 'fence lost'); }
    }
    for (const want of rows) {
      if (want.desired_state === 'running' && !running.has(want.id)) {
        await tryStart(want.id, want.source_id).catch((e) => wlog.warn({ pipeline_id: want.id, err: (e as Error).message }, 'could not start runner'));
      } else if (want.desired_state === 'paused' && !running.has(want.id)) {
        await ds!.query(`UPDATE pipeline_runtime SET state = 'Paused', reason = NULL, since = CASE WHEN state = 'Paused' THEN since ELSE now() END WHERE pipeline_id = $1 AND state <> 'Paused'`, [want.id]).catch(() => undefined);
      }
    }
  };

  while (!signal.aborted) {
    try { await reconcile(); } catch (e) { wlog.warn({ err: (e as Error).message }, 'reconcile failed'); }
    await sleep(tickMs, signal);
  }
  wlog.info({ runners: running.size }, 'worker stopping: flushing, acknowledging and releasing runners');
  await Promise.all([...running.values()].map((r) => stop(r, 'worker shutdown')));
  await ds.destroy().catch(() => undefined);
  metricsServer?.close();
  wlog.info('worker stopped');
}
