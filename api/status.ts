/**
 * Pipeline status as the API reports it: the runner's report (pipeline_runtime), corrected by the
 * desired state and by staleness (a runner that stopped reporting is Broken: no_worker). One
 * function for the single status route, the status list, the console and the alert evaluator.
 */
const STALE_MS = Number(process.env.SLUICE_RUNNER_STALE_MS ?? 15000);

export const STATES = ['Starting', 'Snapshotting', 'Active', 'Paused', 'Broken'] as const;

export interface PipelineStatus {
  id: string;
  name: string;
  tags: Record<string, string>;
  desired_state: string;
  state: string;
  reason: string | null;
  since: string;
  worker_id: string | null;
  source: {
    state: string;
    position: unknown;
    last_event_at: string | null;
    replication_lag_bytes: number | null;
    reason: string | null;
  };
  sink: {
    state: string;
    lag: number | null;
    last_write_at: string | null;
    reason: string | null;
    partitions: { topic: string; partition: number; lag: number }[];
  };
  dlq: { count: number };
  /** From the newest metrics sample (api/metrics-history.ts); null before the first one. */
  throughput: { events_in_per_s: number; events_out_per_s: number; at: string } | null;
}

export interface StatusRow {
  id: string;
  name: string;
  tags: Record<string, string> | null;
  desired_state: string;
  state: string | null;
  reason: string | null;
  since: Date | null;
  worker_id: string | null;
  heartbeat_at: Date | null;
  source: Record<string, any> | null;
  sink: Record<string, any> | null;
  lag_history: unknown;
  dlq_count: number;
  m_at: Date | null;
  m_in: string | null;
  m_out: string | null;
  m_seconds: number | null;
}

/** One SQL statement for any number of pipelines (the console's list must stay fast with 500). */
export const statusSql = (where: string) => `
  SELECT p.id, p.name, p.tags, p.desired_state, r.state, r.reason, r.since, r.worker_id, r.heartbeat_at, r.source, r.sink, r.lag_history,
         coalesce(d.n, 0)::int AS dlq_count, m.at AS m_at, m.events_in AS m_in, m.events_out AS m_out, m.seconds AS m_seconds
  FROM pipelines p
  LEFT JOIN pipeline_runtime r ON r.pipeline_id = p.id
  LEFT JOIN (SELECT pipeline_id, count(*) AS n FROM dlq_records WHERE status IN ('pending','replay_requested') GROUP BY 1) d ON d.pipeline_id = p.id
  LEFT JOIN LATERAL (
    SELECT x.at, x.events_in, x.events_out, extract(epoch FROM x.at - lag(x.at) OVER (ORDER BY x.at))::float8 AS seconds
    FROM (SELECT at, events_in, events_out FROM pipeline_metrics WHERE pipeline_id = p.id ORDER BY at DESC LIMIT 2) x ORDER BY x.at DESC LIMIT 1
  ) m ON true
  ${where}
  ORDER BY p.created_at, p.id`;

const num = (v: unknown) => (v === null || v === undefined || v === '' ? null : Number(v));

export function statusFromRow(r: StatusRow, now = Date.now()): PipelineStatus {
  const fresh = r.heartbeat_at && now - new Date(r.heartbeat_at).getTime() < STALE_MS;
  let state: string = r.state ?? 'Starting';
  let reason: string | null = r.reason ?? null;
  let since: string = (r.since ? new Date(r.since) : new Date(now)).toISOString();
  if (r.desired_state === 'paused') {
    if (!fresh || state === 'Paused') {
      state = 'Paused';
      reason = null;
    }
  } else if (!r.heartbeat_at || state === 'Paused') {
    state = 'Starting';
    reason = 'waiting for a worker to take the pipeline';
  } else if (!fresh) {
    state = 'Broken';
    reason = `no_worker: no runner has reported for ${Math.round((now - new Date(r.heartbeat_at).getTime()) / 1000)} s`;
    since = new Date(new Date(r.heartbeat_at).getTime() + STALE_MS).toISOString();
  }
  const src = r.source ?? {};
  const sink = r.sink ?? {};
  const partitions = Object.entries((sink.partitions ?? {}) as Record<string, number>).map(([k, lag]) => {
    const i = k.lastIndexOf('/');
    return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)), lag: Number(lag) };
  });
  // Events per second over the newest sample's own interval (10 s normally).
  const secs = r.m_seconds && r.m_seconds > 0 ? r.m_seconds : 10;
  return {
    id: r.id,
    name: r.name,
    tags: r.tags ?? {},
    desired_state: r.desired_state,
    state,
    reason,
    since,
    worker_id: r.worker_id ?? null,
    source: {
      state: src.state ?? 'stopped',
      position: src.position ?? null,
      last_event_at: src.last_event_at ?? null,
      replication_lag_bytes: num(src.replication_lag_bytes),
      reason: src.reason ?? null,
    },
    sink: {
      state: sink.state ?? 'stopped',
      lag: num(sink.lag),
      last_write_at: sink.last_write_at ?? null,
      reason: sink.reason ?? null,
      partitions,
    },
    dlq: { count: r.dlq_count },
    throughput: r.m_at
      ? {
          events_in_per_s: round(Number(r.m_in) / secs),
          events_out_per_s: round(Number(r.m_out) / secs),
          at: new Date(r.m_at).toISOString(),
        }
      : null,
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

export type Queryable = { query(sql: string, args?: unknown[]): Promise<any> };

export async function statusRows(ds: Queryable, ids?: string[]): Promise<StatusRow[]> {
  return ids ? ds.query(statusSql('WHERE p.id = ANY($1)'), [ids]) : ds.query(statusSql(''));
}

export async function allStatuses(ds: Queryable): Promise<PipelineStatus[]> {
  const now = Date.now();
  return (await statusRows(ds)).map((r) => statusFromRow(r, now));
}
