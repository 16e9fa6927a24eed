import crypto from 'node:crypto';
import { Job, DelayedError } from 'bullmq';
import { Client } from 'pg';
import { Logger } from 'pino';
import { SecretBox } from '../core/secrets';
import type { ControlDb } from './control-db';
import { PipelineRunner, loadPipeline } from './pipeline';

export interface RunnerJobData {
  pipeline_id: string;
  source_id: string;
}

interface Running {
  id: string;
  signature: string;
  lock: Client;
  abort: AbortController;
  runner: PipelineRunner;
  startedAt: Date;
  stopReason: string | null;
}

/** How long a runner job waits before asking again for a fence that another runner still holds. */
const FENCE_RETRY_MS = 1000;

/**
 * The pipeline runners of one worker process. A runner is a long-running BullMQ job
 * (`pipeline-<id>`); BullMQ decides which worker gets it and hands it to another worker when this
 * one stalls or dies. BullMQ alone cannot guarantee exclusivity (a stalled job can be taken while
 * its first holder still runs), so each runner is also fenced by two Postgres advisory locks
 * (pipeline and source) held on a dedicated control-DB session: a job that cannot take the fence
 * is delayed and asks again, and losing the fence session aborts the runner at once.
 */
export class RunnerHost {
  private running = new Map<string, Running>();

  constructor(
    private o: {
      ds: ControlDb;
      secrets: SecretBox;
      databaseUrl: string;
      logLevel: string;
      kafkaBrokers: string[];
      log: Logger;
      workerId: string;
      graceMs: number;
      partitions: number;
    },
  ) {}

  get size() {
    return this.running.size;
  }

  /** BullMQ processor: runs the pipeline until it must stop, then completes the job (the supervisor re-adds it if still wanted). */
  process = async (job: Job<RunnerJobData>, token?: string, signal?: AbortSignal): Promise<string> => {
    const { pipeline_id: id, source_id: sourceId } = job.data;
    const log = this.o.log.child({ pipeline_id: id, job_id: job.id });
    const lock = new Client({
      connectionString: this.o.databaseUrl,
      application_name: `sluice-fence-${id.slice(0, 8)}`,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
    });
    lock.on('error', () => undefined);
    await lock.connect();
    const got = await lock.query(
      "SELECT pg_try_advisory_lock(hashtext('sluice.pipeline'), " +
        "hashtext($1)) AS p, pg_try_advisory_lock(hashtext('sluice.source'), " +
        'hashtext($2)) AS s',
      [id, sourceId],
    );
    if (!got.rows[0].p || !got.rows[0].s) {
      await lock.end().catch(() => undefined);
      // Another runner (a stalled job's first holder, or a worker whose session is ending) still holds the fence.
      await job.moveToDelayed(Date.now() + FENCE_RETRY_MS, token);
      throw new DelayedError();
    }
    const p = await loadPipeline(this.o.ds, this.o.secrets, id).catch(() => null);
    if (!p || p.desired_state !== 'running') {
      await lock.end().catch(() => undefined);
      return 'not wanted';
    }
    const abort = new AbortController();
    const onJobAbort = () => {
      r.stopReason ??= 'job cancelled';
      abort.abort();
    };
    signal?.addEventListener('abort', onJobAbort, { once: true });
    lock.on('error', (e) => {
      log.error({ err: e.message }, 'fence lost: stopping the runner');
      r.stopReason ??= 'fence lost';
      abort.abort();
    });
    lock.on('end', () => {
      r.stopReason ??= 'fence lost';
      abort.abort();
    });
    const runner = new PipelineRunner(p, {
      ds: this.o.ds,
      databaseUrl: this.o.databaseUrl,
      logLevel: this.o.logLevel,
      kafkaBrokers: this.o.kafkaBrokers,
      log: this.o.log,
      workerId: this.o.workerId,
      token: crypto.randomUUID(),
      graceMs: this.o.graceMs,
      partitions: this.o.partitions,
    });
    const r: Running = { id, signature: p.signature, lock, abort, runner, startedAt: new Date(), stopReason: null };
    this.running.set(id, r);
    log.info({ pipeline: p.name }, 'runner started');
    try {
      await runner.run(abort.signal).catch((e) => log.error({ err: (e as Error).message }, 'runner failed'));
      if (r.stopReason === 'paused') await runner.report({ state: 'Paused', reason: null }).catch(() => undefined);
    } finally {
      signal?.removeEventListener('abort', onJobAbort);
      abort.abort();
      await lock.end().catch(() => undefined);
      this.running.delete(id);
      log.info({ why: r.stopReason ?? 'runner ended' }, 'runner stopped');
    }
    return r.stopReason ?? 'runner ended';
  };

  /** Stops local runners whose pipeline was deleted, paused, restarted or reconfigured, or whose fence died. */
  async watch(): Promise<void> {
    if (!this.running.size) return;
    const rows: { id: string; desired_state: string; restart_requested_at: Date | null }[] = await this.o.ds.query(
      'SELECT p.id, p.desired_state, r.restart_requested_at FROM pipelines p ' +
        'LEFT JOIN pipeline_runtime r ON r.pipeline_id = p.id WHERE p.id = ' +
        'ANY($1)',
      [[...this.running.keys()]],
    );
    const byId = new Map(rows.map((x) => [x.id, x]));
    for (const r of this.running.values()) {
      const want = byId.get(r.id);
      let why: string | null = null;
      if (!want) why = 'pipeline deleted';
      else if (want.desired_state !== 'running') why = 'paused';
      else if (want.restart_requested_at && want.restart_requested_at > r.startedAt) why = 'restart requested';
      else {
        const p = await loadPipeline(this.o.ds, this.o.secrets, r.id).catch(() => null);
        if (p && p.signature !== r.signature) why = 'configuration changed';
        else {
          try {
            await r.lock.query('SELECT 1');
          } catch {
            why = 'fence lost';
          }
        }
      }
      if (why) {
        r.stopReason ??= why;
        r.abort.abort();
      }
    }
  }

  /** Graceful shutdown: every runner flushes, acknowledges and releases its fence; their jobs complete. */
  stopAll(why: string) {
    for (const r of this.running.values()) {
      r.stopReason ??= why;
      r.abort.abort();
    }
  }
}
