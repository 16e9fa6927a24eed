import { QUALIFIED_TABLE_RE } from '../../core/patterns';
import { Router } from 'express';
import type { AppContext } from '../context';
import { Problem } from '../problem';
import { idParam } from './common';

const RESOLUTIONS = ['resnapshot', 'new_column'] as const;

function validation(field: string, message: string): Problem {
  return new Problem(400, 'Validation failed', `${field} ${message}`, [{ field, message }]);
}

/** One table's schema history as the API shows it: the current columns and every version with its changes. */
function tableView(rows: any[]) {
  const applied = rows.filter((r) => r.status === 'applied');
  const current = applied[applied.length - 1] ?? rows[0];
  return {
    table: current.table_name,
    version: current.version,
    columns: current.columns,
    ignored_columns: current.ignored,
    column_map: current.column_map,
    held: rows.some((r) => r.status !== 'applied')
      ? rows
          .filter((r) => r.status !== 'applied')
          .map((r) => ({ version: r.version, status: r.status, reason: r.reason }))
      : [],
    history: rows.map((r) => ({
      version: r.version,
      status: r.status,
      changes: r.changes,
      columns: r.columns,
      position: r.position,
      kafka_offset: r.kafka_offset === null ? null : Number(r.kafka_offset),
      reason: r.reason,
      resolution: r.resolution,
      at: new Date(r.created_at).toISOString(),
      acknowledged_at: r.acknowledged_at ? new Date(r.acknowledged_at).toISOString() : null,
    })),
  };
}

/**
 * Schema changes of a pipeline's tables (the sink's schema history, workers/schema-tracker.ts):
 * GET /v1/pipelines/:id/schema, and POST /v1/pipelines/:id/schema/ack to release a held table
 * (schema_changes = fail, or an incompatible type change, which needs a resolution).
 */
export function schemaRouter(ctx: AppContext): Router {
  const r = Router();

  const pipelineExists = async (id: string) => {
    const found = await ctx.ds.query(`SELECT schema_changes FROM pipelines WHERE id = $1`, [id]);
    if (!found.length) throw new Problem(404, 'Not found', `No pipeline with id ${id}.`);
    return found[0].schema_changes as string;
  };

  r.get('/pipelines/:id/schema', async (req, res) => {
    const id = idParam(req, 'pipeline');
    const policy = await pipelineExists(id);
    const rows = await ctx.ds.query(
      `SELECT * FROM schema_history WHERE pipeline_id = $1 ORDER BY table_name, version`,
      [id],
    );
    const byTable = new Map<string, any[]>();
    for (const row of rows) {
      const l = byTable.get(row.table_name) ?? [];
      l.push(row);
      byTable.set(row.table_name, l);
    }
    res.json({ pipeline_id: id, schema_changes: policy, tables: [...byTable.values()].map(tableView) });
  });

  r.post('/pipelines/:id/schema/ack', async (req, res) => {
    const id = idParam(req, 'pipeline');
    await pipelineExists(id);
    const b = req.body ?? {};
    if (typeof b !== 'object' || Array.isArray(b))
      throw validation(
        '(body)',
        'must be a JSON object: {"table"?: "schema.table", "resolution"?: "resnapshot" | "new_column"}',
      );
    for (const k of Object.keys(b))
      if (!['table', 'resolution'].includes(k))
        throw validation(k, `unknown field ${k}: allowed are table, resolution`);
    if (b.table !== undefined && (typeof b.table !== 'string' || !QUALIFIED_TABLE_RE.test(b.table)))
      throw validation('table', 'must be "schema.table"');
    if (b.resolution !== undefined && !RESOLUTIONS.includes(b.resolution))
      throw validation('resolution', `must be one of: ${RESOLUTIONS.join(', ')}`);
    const held = await ctx.ds.query(
      'SELECT table_name, version, reason FROM schema_history WHERE ' +
        "pipeline_id = $1 AND status = 'held' AND ($2::text IS NULL OR " +
        'table_name = $2) ORDER BY table_name, version',
      [id, b.table ?? null],
    );
    if (!held.length)
      throw new Problem(
        409,
        'Conflict',
        `Nothing to acknowledge: no table of pipeline ${id}${b.table ? ` named ${b.table}` : ''} ` +
          `is held by a schema change. GET /v1/pipelines/${id}/schema shows its history.`,
      );
    const incompatible = held.filter((h: any) => String(h.reason).startsWith('schema_incompatible'));
    if (incompatible.length && !b.resolution) {
      throw validation(
        'resolution',
        `is required: ${incompatible.map((h: any) => h.table_name).join(', ')} held by an incompatible type change; choose resnapshot ` +
          `(recreate the column with the new type and snapshot the table again) or new_column (write the new values into a new column from now on)`,
      );
    }
    const done = await ctx.ds.query(
      `UPDATE schema_history SET status = 'acknowledged', resolution = CASE WHEN reason LIKE 'schema_incompatible%'
      THEN $3 ELSE NULL END, acknowledged_at = now()
       WHERE pipeline_id = $1 AND status = 'held' AND ($2::text IS NULL OR table_name = $2) RETURNING table_name, version, resolution`,
      [id, b.table ?? null, b.resolution ?? null],
    );
    const rows = (Array.isArray(done[0]) ? done[0] : done) as {
      table_name: string;
      version: number;
      resolution: string | null;
    }[];
    ctx.log.info(
      { pipeline_id: id, tables: rows.map((x) => x.table_name), resolution: b.resolution ?? null },
      'schema change acknowledged',
    );
    res.json({
      acknowledged: rows.map((x) => ({ table: x.table_name, version: x.version, resolution: x.resolution })),
    });
  });

  return r;
}
