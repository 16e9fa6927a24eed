import { Router } from 'express';
import type { Kafka } from 'kafkajs';
import { kafkajs } from '../../patches';
import type { AppContext } from '../context';
import { loadConfig } from '../../core/config';
import { Problem } from '../problem';
import { idParam, paging, requirePipeline } from './common';
import { QUALIFIED_TABLE_RE, UUID_RE } from '../../core/patterns';
import { groupIdFor, topicFor } from '../../core/names';
import { destinationModule, sourceModule } from '../../connectors';
import type { DestinationRowCounter, SourceRowCounter } from '../../connectors/module';
import { statusFromRow, statusRows } from '../status';
import type { FieldSpec } from '../../core/spec';
import { FieldError, validateFields, withDefaults } from '../validation';
import { invalid } from '../problem';
import { queryOf } from '../request-guard';

/** POST /v1/pipelines/:id/snapshots: validation and its OpenAPI schema (openapi.ts) come from here. */
export const snapshotRequestFields: Record<string, FieldSpec> = {
  tables: {
    type: 'list',
    required: true,
    minItems: 1,
    pattern: QUALIFIED_TABLE_RE,
    patternHint: '"schema.table" (no spaces)',
    description: 'Tables to snapshot, as "schema.table".',
  },
  filter: {
    type: 'string',
    maxLength: 2000,
    pattern: /^[^;]*$/,
    patternHint: 'one SQL predicate (no ";")',
    description: 'SQL predicate limiting the rows, e.g. "created_at > now() - interval \'7 days\'".',
  },
  mode: {
    type: 'string',
    default: 'incremental',
    enum: ['incremental', 'blocking'],
    description: 'incremental: in watermarked chunks while streaming continues; blocking: the stream waits.',
  },
};

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** The DLQ records a replay or discard applies to: {"ids": [...]} or {"all": true}. */
export const dlqSelectionSchema = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['ids'],
      properties: {
        ids: {
          type: 'array',
          minItems: 1,
          maxItems: 10000,
          items: { type: 'integer', minimum: 1, maximum: MAX_SAFE },
          description: 'DLQ record ids.',
        },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['all'],
      properties: { all: { type: 'boolean', const: true, description: 'Every pending record.' } },
    },
  ],
};

function dlqSelection(b: unknown): { all: true } | { ids: number[] } {
  const keys = b && typeof b === 'object' && !Array.isArray(b) ? Object.keys(b) : null;
  const body = b as { ids?: unknown; all?: unknown };
  if (keys?.length === 1 && body.all === true) return { all: true };
  if (
    keys?.length === 1 &&
    Array.isArray(body.ids) &&
    body.ids.length >= 1 &&
    body.ids.length <= 10000 &&
    body.ids.every((x) => Number.isInteger(x) && x >= 1 && x <= MAX_SAFE)
  ) {
    return { ids: body.ids as number[] };
  }
  throw validation(
    'ids',
    'must be a list of 1 to 10000 DLQ record ids (integers from 1), or send {"all": true} instead (not both)',
  );
}

function validation(field: string, message: string): Problem {
  return new Problem(400, 'Validation failed', `${field} ${message}`, [{ field, message }]);
}

/** Pipeline status as the API reports it (api/status.ts), plus the runner's recent lag for verify. */
export async function pipelineStatus(ctx: AppContext, id: string) {
  const rows = await statusRows(ctx.ds, [id]);
  if (!rows.length) throw new Problem(404, 'Not found', `No pipeline with id ${id}.`);
  return {
    ...statusFromRow(rows[0]),
    _lag_history: (rows[0].lag_history ?? []) as { at: string; lag: number | null }[],
  };
}

async function loadConnectors(ctx: AppContext, id: string) {
  const p = (await ctx.ds.query(`SELECT * FROM pipelines WHERE id = $1`, [id]))[0];
  if (!p) throw new Problem(404, 'Not found', `No pipeline with id ${id}.`);
  const conns = await ctx.ds.query(`SELECT * FROM connectors WHERE id = ANY($1)`, [[p.source_id, p.destination_id]]);
  const open = (c: any) => {
    const cfg = { ...c.config };
    for (const [f, enc] of Object.entries(c.secrets ?? {})) cfg[f] = ctx.secrets.decrypt(enc as string, f);
    return cfg;
  };
  const src = conns.find((c: any) => c.id === p.source_id);
  const dst = conns.find((c: any) => c.id === p.destination_id);
  return {
    p,
    source: open(src),
    sourceKind: String(src.kind),
    destination: open(dst),
    destinationKind: String(dst.kind),
  };
}

function kafkaOf(ctx: AppContext): Kafka {
  const brokers = (ctx as AppContext & { kafkaBrokers?: string[] }).kafkaBrokers ?? loadConfig().kafkaBrokers;
  const { Kafka } = kafkajs();
  return new Kafka({
    clientId: 'sluice-api',
    brokers,
    logLevel: 0,
    retry: { retries: 1 },
    connectionTimeout: 3000,
    requestTimeout: 5000,
  });
}

async function groupLag(
  kafka: Kafka,
  groups: { group: string; pipeline_id: string; pipeline: string; topics: string[] }[],
) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const described = groups.length ? await admin.describeGroups(groups.map((g) => g.group)) : { groups: [] };
    const out = [];
    for (const g of groups) {
      const topics = g.topics.filter((t) => existing.has(t));
      const committed = topics.length ? await admin.fetchOffsets({ groupId: g.group, topics }) : [];
      const partitions = [];
      let total = 0;
      for (const t of committed) {
        const ends = await admin.fetchTopicOffsets(t.topic);
        for (const p of t.partitions) {
          const e = ends.find((x) => x.partition === p.partition);
          const end = Number(e?.high ?? 0);
          const at = Number(p.offset) < 0 ? Number(e?.low ?? 0) : Number(p.offset);
          const lag = Math.max(0, end - at);
          total += lag;
          partitions.push({
            topic: t.topic,
            partition: p.partition,
            committed_offset: Number(p.offset),
            end_offset: end,
            lag,
          });
        }
      }
      const d = described.groups.find((x) => x.groupId === g.group);
      out.push({
        group: g.group,
        pipeline_id: g.pipeline_id,
        pipeline: g.pipeline,
        state: d?.state ?? 'Unknown',
        members: d?.members.length ?? 0,
        partitions,
        lag: total,
      });
    }
    return out;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The tables a pipeline delivers: its `tables`, or every table its source captures now. */
async function tablesOf(p: any, sourceKind: string, source: Record<string, any>): Promise<string[]> {
  if (p.tables?.length) return p.tables;
  const db = await sourceModule(sourceKind).openCounter(source);
  try {
    return await db.capturedTables();
  } finally {
    await db.close();
  }
}

async function topicsOf(ctx: AppContext, id: string): Promise<string[]> {
  const { p, source, sourceKind } = await loadConnectors(ctx, id);
  const tables = await tablesOf(p, sourceKind, source).catch(() => [] as string[]);
  return tables.map((t) => {
    const [s, n] = t.split('.');
    return topicFor(source.topic_prefix, s, n);
  });
}

/** The post-outage checklist (GET /v1/pipelines/:id/verify); also run by the alert rule verify_failing. */
export async function verifyPipeline(ctx: AppContext, id: string) {
  const st = await pipelineStatus(ctx, id);
  const checks: { check: string; pass: boolean; detail: string; table?: string }[] = [];
  checks.push({
    check: 'state',
    pass: st.state === 'Active',
    detail: `${st.state}${st.reason ? ` (${st.reason})` : ''}`,
  });
  const { p, source, sourceKind, destination, destinationKind } = await loadConnectors(ctx, id);
  let groups: any[] = [];
  const topics = await topicsOf(ctx, id).catch(() => [] as string[]);
  try {
    groups = await groupLag(kafkaOf(ctx), [{ group: groupIdFor(id), pipeline_id: id, pipeline: p.name, topics }]);
  } catch {
    groups = [];
  }
  const parts = groups[0]?.partitions ?? [];
  // Lag now (read from Kafka) against what the runner reported over the last minute.
  const hist = st._lag_history.map((h) => h.lag).filter((x): x is number => typeof x === 'number');
  const current: number | null = groups.length ? groups[0].lag : null;
  const earlier = hist.length ? Math.max(...hist.slice(-10)) : null;
  const lagOk = current === 0 || (current !== null && earlier !== null && current < earlier);
  checks.push({
    check: 'lag_falling',
    pass: lagOk,
    detail:
      current === null
        ? 'Kafka not reachable: lag unknown'
        : `lag ${current} now (max ${earlier ?? 'n/a'} over the last ~10 s)`,
  });
  checks.push({ check: 'dlq_empty', pass: st.dlq.count === 0, detail: `${st.dlq.count} record(s) in the DLQ` });
  let sdb: SourceRowCounter | null = null;
  let ddb: DestinationRowCounter | null = null;
  try {
    sdb = await sourceModule(sourceKind).openCounter(source);
    const dmod = destinationModule(destinationKind);
    ddb = dmod.openCounter ? await dmod.openCounter(destination) : null;
    const tables: string[] = p.tables?.length ? p.tables : await sdb.capturedTables();
    const mode = p.ingestion_mode ?? destination.ingestion_mode ?? 'upsert';
    for (const t of tables) {
      const [schema, name] = t.split('.');
      const topic = topicFor(source.topic_prefix, schema, name);
      const tlag = parts.filter((x: any) => x.topic === topic).reduce((a: number, x: any) => a + x.lag, 0);
      checks.push({
        check: 'freshness',
        table: t,
        pass: tlag === 0,
        detail: `${tlag} event(s) not yet written (last write ${st.sink.last_write_at ?? 'never'})`,
      });
      const destTable = String(destination.table_name_format ?? '{table}')
        .replace(/\{schema\}/g, schema)
        .replace(/\{table\}/g, name)
        .replace(/\{topic_prefix\}/g, source.topic_prefix);
      const sN = await sdb.count(schema, name);
      if (!ddb) {
        checks.push({
          check: 'row_count',
          table: t,
          pass: true,
          detail: `source ${sN}; a ${destinationKind} destination cannot count what it holds (not compared)`,
        });
        continue;
      }
      let dN: number | null = null;
      try {
        if (mode === 'append') {
          const keys = await sdb.primaryKey(schema, name);
          dN = keys.length ? await ddb.countLatest(destTable, keys) : null;
        } else dN = await ddb.count(destTable, destination.hard_delete === false);
      } catch {
        dN = null;
      }
      checks.push({
        check: 'row_count',
        table: t,
        pass: dN === sN,
        detail: `source ${sN}, destination ${dN ?? 'n/a'}`,
      });
    }
  } catch (e) {
    checks.push({ check: 'databases_reachable', pass: false, detail: (e as Error).message });
  } finally {
    await sdb?.close();
    await ddb?.close();
  }
  return { pipeline_id: id, pass: checks.every((c) => c.pass), checks, checked_at: new Date().toISOString() };
}

/** Data-plane operations: status, restart, snapshots, DLQ, verify, consumer groups. */
export function operationsRouter(ctx: AppContext): Router {
  const r = Router();

  r.get('/pipelines/:id/status', async (req, res) => {
    const s = await pipelineStatus(ctx, idParam(req, 'pipeline'));
    const { _lag_history, ...pub } = s;
    res.json(pub);
  });

  r.post('/pipelines/:id/restart', async (req, res) => {
    const id = idParam(req, 'pipeline');
    await requirePipeline(ctx.ds, id);
    await ctx.ds.query(
      'INSERT INTO pipeline_runtime (pipeline_id, restart_requested_at) ' +
        'VALUES ($1, now()) ON CONFLICT (pipeline_id) DO UPDATE SET ' +
        'restart_requested_at = now()',
      [id],
    );
    ctx.log.info({ pipeline_id: id }, 'pipeline restart requested');
    res.status(202).json({ status: 'restart requested' });
  });

  // ---- snapshots ----
  const snapshotView = (s: any) => {
    const tables = Object.fromEntries(
      (s.tables as string[]).map((t) => {
        const p = s.progress?.[t] ?? { rows: 0, done: false, total_estimate: null };
        return [
          t,
          {
            rows: p.rows ?? 0,
            total_estimate: p.total_estimate ?? null,
            done: !!p.done,
            ...(p.gap_deletes != null ? { gap_deletes: p.gap_deletes } : {}),
            ...(p.error ? { error: p.error } : {}),
          },
        ];
      }),
    );
    const rows = Object.values(tables).reduce((a: number, t: any) => a + t.rows, 0);
    const total = Object.values(tables).reduce((a: number, t: any) => a + (t.total_estimate ?? 0), 0);
    const percent = s.status === 'done' ? 100 : total ? Math.min(99, Math.floor((100 * rows) / total)) : 0;
    return {
      id: s.id,
      pipeline_id: s.pipeline_id,
      status: s.status,
      mode: s.mode,
      filter: s.filter,
      reason: s.reason,
      tables: s.tables,
      progress: tables,
      rows_done: rows,
      rows_total: total,
      percent,
      error: s.error,
      created_at: new Date(s.created_at).toISOString(),
      finished_at: s.finished_at ? new Date(s.finished_at).toISOString() : null,
    };
  };
  r.post('/pipelines/:id/snapshots', async (req, res) => {
    const id = idParam(req, 'pipeline');
    const errors: FieldError[] = validateFields(snapshotRequestFields, req.body, '', 'SnapshotRequest', {
      requireAll: true,
    });
    if (errors.length) throw invalid(errors);
    const b = withDefaults(snapshotRequestFields, req.body) as {
      tables: string[];
      filter: string | null;
      mode: string;
    };
    const mode = b.mode;
    const found = await ctx.ds.query(
      `SELECT c.name AS source_name, c.config->>'snapshot_mode' AS snapshot_mode, st.source_id IS NOT NULL AND st.slot_established_at IS NULL AS released
       FROM pipelines p JOIN connectors c ON c.id = p.source_id LEFT JOIN source_state st ON st.source_id = c.id WHERE p.id = $1`,
      [id],
    );
    if (!found.length) throw new Problem(404, 'Not found', `No pipeline with id ${id}.`);
    // A snapshot needs the stream (its watermarks travel in it); a finished initial_only source has none.
    if (found[0].snapshot_mode === 'initial_only' && found[0].released) {
      throw new Problem(
        409,
        'Conflict',
        `Source ${JSON.stringify(found[0].source_name)} has snapshot_mode "initial_only" and has finished its initial snapshot, so it streams ` +
          `nothing and cannot run another snapshot. Set its snapshot_mode to "initial" to stream again (that starts afresh with a new initial snapshot).`,
      );
    }
    const rows = await ctx.ds.query(
      `INSERT INTO snapshots (pipeline_id, tables, filter, mode) VALUES ($1, $2, $3, $4) RETURNING *`,
      [id, JSON.stringify(b.tables), b.filter ?? null, mode],
    );
    ctx.log.info({ pipeline_id: id, snapshot_id: rows[0].id, tables: b.tables }, 'snapshot requested');
    res.status(202).setHeader('Location', `/v1/pipelines/${id}/snapshots/${rows[0].id}`);
    res.json(snapshotView(rows[0]));
  });
  r.get('/pipelines/:id/snapshots', async (req, res) => {
    const id = idParam(req, 'pipeline');
    await requirePipeline(ctx.ds, id);
    const rows = await ctx.ds.query(
      `SELECT * FROM snapshots WHERE pipeline_id = $1 ORDER BY created_at DESC LIMIT 100`,
      [id],
    );
    res.json({ items: rows.map(snapshotView), total: rows.length });
  });
  r.get('/pipelines/:id/snapshots/:sid', async (req, res) => {
    const id = idParam(req, 'pipeline');
    const sid = String(req.params.sid);
    if (!UUID_RE.test(sid)) throw new Problem(404, 'Not found', `No snapshot ${sid}.`);
    const rows = await ctx.ds.query(`SELECT * FROM snapshots WHERE pipeline_id = $1 AND id = $2`, [id, sid]);
    if (!rows.length) throw new Problem(404, 'Not found', `No snapshot ${sid} in pipeline ${id}.`);
    res.json(snapshotView(rows[0]));
  });

  // ---- DLQ ----
  r.get('/pipelines/:id/dlq', async (req, res) => {
    const id = idParam(req, 'pipeline');
    const { page, pageSize } = paging(req);
    const st = queryOf(req).status as string;
    await requirePipeline(ctx.ds, id);
    const statuses =
      st === 'all' ? ['pending', 'replay_requested', 'replayed', 'discarded', 'superseded'] : st.split(',');
    const rows = await ctx.ds.query(
      `SELECT * FROM dlq_records WHERE pipeline_id = $1 AND status = ANY($2) ORDER BY id LIMIT $3 OFFSET $4`,
      [id, statuses, pageSize, (page - 1) * pageSize],
    );
    const total = await ctx.ds.query(
      `SELECT count(*)::int AS n FROM dlq_records WHERE pipeline_id = $1 AND status = ANY($2)`,
      [id, statuses],
    );
    res.json({
      items: rows.map((x: any) => ({
        id: Number(x.id),
        status: x.status,
        topic: x.topic,
        partition: x.kafka_partition,
        offset: Number(x.kafka_offset),
        key: x.record_key,
        error_class: x.error_class,
        error_message: x.error_message,
        attempts: x.attempts,
        record: x.record_value,
        created_at: new Date(x.created_at).toISOString(),
      })),
      total: total[0].n,
      page,
      page_size: pageSize,
    });
  });
  for (const [op, to] of [
    ['replay', 'replay_requested'],
    ['discard', 'discarded'],
  ] as const) {
    r.post(`/pipelines/:id/dlq/${op}`, async (req, res) => {
      const id = idParam(req, 'pipeline');
      const b = dlqSelection(req.body);
      await requirePipeline(ctx.ds, id);
      const rows =
        'all' in b
          ? await ctx.ds.query(
              'UPDATE dlq_records SET status = $2, updated_at = now() WHERE ' +
                "pipeline_id = $1 AND status = 'pending' RETURNING id",
              [id, to],
            )
          : await ctx.ds.query(
              'UPDATE dlq_records SET status = $2, updated_at = now() WHERE ' +
                "pipeline_id = $1 AND status = 'pending' AND id = ANY($3) RETURNING id",
              [id, to, b.ids],
            );
      const ids = (Array.isArray(rows[0]) ? rows[0] : rows).map((x: any) => Number(x.id));
      ctx.log.info({ pipeline_id: id, op, count: ids.length }, `DLQ ${op}`);
      res
        .status(op === 'replay' ? 202 : 200)
        .json({ [op === 'replay' ? 'replay_requested' : 'discarded']: ids.length, ids });
    });
  }

  // ---- verify: the post-outage checklist ----
  r.get('/pipelines/:id/verify', async (req, res) => {
    res.json(await verifyPipeline(ctx, idParam(req, 'pipeline')));
  });

  // ---- consumer groups ----
  r.get('/consumer-groups', async (_req, res) => {
    const pipes = await ctx.ds.query(`SELECT id, name FROM pipelines ORDER BY name`);
    const groups = [];
    for (const p of pipes)
      groups.push({
        group: groupIdFor(p.id),
        pipeline_id: p.id,
        pipeline: p.name,
        topics: await topicsOf(ctx, p.id).catch(() => [] as string[]),
      });
    try {
      res.json({ items: await groupLag(kafkaOf(ctx), groups) });
    } catch (e) {
      throw new Problem(503, 'Kafka unavailable', `Cannot read consumer groups: ${(e as Error).message}`);
    }
  });

  return r;
}
