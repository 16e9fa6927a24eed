import { Router } from 'express';
import type { AppContext } from './context';
import { Problem } from './problem';
import { idParam, requirePipeline } from './routes/common';

/**
 * Metrics history per pipeline: every SAMPLE_MS (10 s) one row with the sink lag, replication lag,
 * events in/out and write errors of the interval, and the DLQ count; kept RETENTION_MS (24 h).
 * Rows are written by the alert leader (api/alerts/engine.ts: one process at a time) from what the
 * runners report in pipeline_runtime (cumulative counters per runner): the interval's delta is the
 * difference to the previous sample of the same runner (0 on the first sample of a new runner).
 * Size: about 100 bytes a row, 8,640 rows a pipeline a day.
 */
export const SAMPLE_MS = Number(process.env.SLUICE_METRICS_INTERVAL_MS ?? 10000);
export const RETENTION_MS = 24 * 3600 * 1000;
const STALE_MS = Number(process.env.SLUICE_RUNNER_STALE_MS ?? 15000);

const delta = (cur: string, prev: string) =>
  `CASE WHEN ${cur} IS NULL OR prev.runner_token IS DISTINCT FROM r.runner_token OR prev.${prev} IS NULL THEN 0
        WHEN ${cur} >= prev.${prev} THEN ${cur} - prev.${prev} ELSE ${cur} END`;

/** One sample of every pipeline (one statement), then the rows older than the retention go. */
export async function sampleMetrics(
  q: { query(sql: string, args?: unknown[]): Promise<unknown> },
  at = new Date(),
): Promise<void> {
  const inT = `(r.source->>'events_in_total')::bigint`;
  const outT = `(r.sink->>'events_out_total')::bigint`;
  const errT = `(r.sink->>'errors_total')::bigint`;
  const fresh = `r.heartbeat_at > $1::timestamptz - make_interval(secs => $2::float8 / 1000)`;
  await q.query(
    `
    INSERT INTO pipeline_metrics (pipeline_id, at, lag, replication_lag_bytes, events_in, events_out, errors,
    dlq_count, runner_token, in_total, out_total, err_total)
    SELECT p.id, $1, CASE WHEN ${fresh} THEN (r.sink->>'lag')::bigint END, CASE WHEN ${fresh} THEN (r.source->>'replication_lag_bytes')::bigint END,
           ${delta(inT, 'in_total')}, ${delta(outT, 'out_total')}, ${delta(errT, 'err_total')},
           coalesce(d.n, 0), r.runner_token, ${inT}, ${outT}, ${errT}
    FROM pipelines p
    LEFT JOIN pipeline_runtime r ON r.pipeline_id = p.id
    LEFT JOIN (SELECT pipeline_id, count(*) AS n FROM dlq_records WHERE status IN ('pending','replay_requested') GROUP BY 1) d ON d.pipeline_id = p.id
    LEFT JOIN LATERAL (SELECT runner_token, in_total, out_total, err_total FROM pipeline_metrics m WHERE m.pipeline_id
    = p.id ORDER BY at DESC LIMIT 1) prev ON true
    ON CONFLICT DO NOTHING`,
    [at.toISOString(), STALE_MS],
  );
  await q.query(`DELETE FROM pipeline_metrics WHERE at < $1`, [new Date(at.getTime() - RETENTION_MS).toISOString()]);
}

const bad = (field: string, message: string) =>
  new Problem(400, 'Validation failed', `${field} ${message}`, [{ field, message }]);

/** Query parameters of GET /v1/pipelines/:id/metrics, bounded (documented in api/openapi.ts). */
export function metricsParams(query: Record<string, unknown>, now = Date.now()): { since: Date; step: number } {
  let since = new Date(now - 3600_000);
  if (query.since !== undefined) {
    const s = String(query.since);
    const t = /^\d{4}-\d{2}-\d{2}T/.test(s) ? Date.parse(s) : NaN;
    if (Number.isNaN(t)) throw bad('since', 'must be an RFC 3339 date-time such as 2026-12-01T10:00:00Z');
    // The document cannot bound a date by the clock, so an older start is not an error: the answer
    // starts where the kept history does (24 h), and `since` in the answer says so.
    since = new Date(Math.min(Math.max(t, now - RETENTION_MS), now));
  }
  let step = 10;
  if (query.step !== undefined) {
    step = Number(query.step);
    if (!Number.isInteger(step) || step < 10 || step > 3600)
      throw bad('step', 'must be an integer number of seconds from 10 to 3600');
  }
  return { since, step };
}

/** GET /v1/pipelines/:id/metrics?since=&step= : buckets of `step` seconds, oldest first. */
export function metricsRouter(ctx: AppContext): Router {
  const r = Router();
  r.get('/pipelines/:id/metrics', async (req, res) => {
    const id = idParam(req, 'pipeline');
    const { since, step } = metricsParams(req.query);
    await requirePipeline(ctx.ds, id);
    const rows = await ctx.ds.query(
      `
      SELECT to_timestamp(floor(extract(epoch FROM at) / $3) * $3) AS bucket, max(lag) AS lag, max(replication_lag_bytes) AS rlag,
             sum(events_in) AS ein, sum(events_out) AS eout, sum(errors) AS err, max(dlq_count) AS dlq, count(*)::int AS n
      FROM pipeline_metrics WHERE pipeline_id = $1 AND at >= $2 GROUP BY 1 ORDER BY 1`,
      [id, since.toISOString(), step],
    );
    const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    res.json({
      pipeline_id: id,
      since: since.toISOString(),
      until: new Date().toISOString(),
      step,
      points: rows.map((x: any) => ({
        at: new Date(x.bucket).toISOString(),
        lag: n(x.lag),
        replication_lag_bytes: n(x.rlag),
        events_in: Number(x.ein),
        events_out: Number(x.eout),
        // Rates over the time the bucket's samples cover (a partial bucket is not diluted).
        events_in_per_s: Math.round((Number(x.ein) / Math.min(step, (x.n * SAMPLE_MS) / 1000)) * 100) / 100,
        events_out_per_s: Math.round((Number(x.eout) / Math.min(step, (x.n * SAMPLE_MS) / 1000)) * 100) / 100,
        errors: Number(x.err),
        dlq_count: Number(x.dlq),
      })),
    });
  });
  return r;
}

/** JSON Schema of the response, for api/openapi.ts. */
export const metricsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['pipeline_id', 'since', 'until', 'step', 'points'],
  properties: {
    pipeline_id: { type: 'string', format: 'uuid' },
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    step: { type: 'integer', minimum: 10, maximum: 3600 },
    points: {
      type: 'array',
      maxItems: 8700,
      items: {
        type: 'object',
        additionalProperties: false,
        required: [
          'at',
          'lag',
          'replication_lag_bytes',
          'events_in',
          'events_out',
          'events_in_per_s',
          'events_out_per_s',
          'errors',
          'dlq_count',
        ],
        properties: {
          at: { type: 'string', format: 'date-time', description: 'Start of the bucket.' },
          lag: {
            type: ['integer', 'null'],
            description:
              'Largest sink lag (records in Kafka not yet written) in the bucket; null when no runner reported.',
          },
          replication_lag_bytes: {
            type: ['integer', 'null'],
            description: 'Largest replication lag (bytes of WAL the slot holds) in the bucket.',
          },
          events_in: { type: 'integer', description: 'Change events read from the source in the bucket.' },
          events_out: { type: 'integer', description: 'Change events written to the destination in the bucket.' },
          events_in_per_s: { type: 'number' },
          events_out_per_s: { type: 'number' },
          errors: { type: 'integer', description: 'Destination write retries (record and connection) in the bucket.' },
          dlq_count: {
            type: 'integer',
            description: 'Largest number of records in the DLQ (pending or being replayed) in the bucket.',
          },
        },
      },
    },
  },
};
