import { Queue } from 'bullmq';
import { Logger } from 'pino';
import type { ControlDb } from './control-db';
import { RunnerJobData } from './runner-host';

export const RUNNERS_QUEUE = 'runners';
export const CONTROL_QUEUE = 'control';
export const runnerJobId = (pipelineId: string) => `pipeline-${pipelineId}`;

/**
 * Reconciles desired state (control DB) with runner jobs (BullMQ). Runs as the `reconcile` job of
 * a job scheduler, so exactly one worker does it per tick however many workers run. Every pipeline
 * whose desired state is `running` gets one runner job; a job that finished (paused, restarted,
 * reconfigured, worker shut down) was removed, so the next tick adds it again when still wanted.
 */
export class Supervisor {
  constructor(private o: { ds: ControlDb; runners: Queue<RunnerJobData>; log: Logger }) {}

  async reconcile(): Promise<void> {
    const rows: { id: string; source_id: string; desired_state: string }[] = await this.o.ds.query(
      `SELECT id, source_id, desired_state FROM pipelines`,
    );
    for (const p of rows) {
      if (p.desired_state === 'running') {
        const jobId = runnerJobId(p.id);
        const job = await this.o.runners.getJob(jobId);
        if (job) {
          const state = await job.getState();
          if (state !== 'completed' && state !== 'failed') continue;
          await job.remove().catch(() => undefined);
        }
        // The job id dedupes: two supervisors racing add one job.
        await this.o.runners.add(
          'run',
          { pipeline_id: p.id, source_id: p.source_id },
          { jobId, removeOnComplete: true, removeOnFail: true },
        );
      } else if (p.desired_state === 'paused') {
        await this.o.ds
          .query(
            "UPDATE pipeline_runtime SET state = 'Paused', reason = NULL, since = " +
              "now() WHERE pipeline_id = $1 AND state <> 'Paused' AND (heartbeat_at " +
              "IS NULL OR heartbeat_at < now() - interval '5 seconds')",
            [p.id],
          )
          .catch(() => undefined);
      }
    }
  }
}
