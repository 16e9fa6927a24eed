import type { ApiClient } from './client';

/** One pipeline as `sluice status` prints it (from GET /v1/pipelines/status). */
export interface PipelineStatusLine {
  id: string;
  name: string;
  state: string;
  reason: string | null;
  desired_state: string;
  sink: { lag: number | null };
  source: { replication_lag_bytes: number | null; last_event_at: string | null };
  dlq: { count: number };
}

export async function allPipelineStatuses(api: ApiClient): Promise<PipelineStatusLine[]> {
  const out: PipelineStatusLine[] = [];
  for (let page = 1; ; page++) {
    const r = (await api.request('GET', `/v1/pipelines/status?page=${page}&page_size=500`)).body;
    out.push(...r.items);
    if (out.length >= r.total || !r.items.length) return out;
  }
}

/** A fixed-width table: state, lag and DLQ count side by side, the reason last (it can be long). */
export function pipelineTable(items: PipelineStatusLine[]): string {
  const rows = [
    ['PIPELINE', 'STATE', 'LAG', 'DLQ', 'REASON'],
    ...items.map((p) => [
      p.name,
      p.desired_state === 'paused' && p.state !== 'Paused' ? `${p.state} (pausing)` : p.state,
      p.sink.lag === null ? '-' : String(p.sink.lag),
      String(p.dlq.count),
      p.reason ?? '',
    ]),
  ];
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i < 4 ? c.padEnd(w[i]) : c))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
