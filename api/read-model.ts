import { DataSource } from 'typeorm';

/**
 * The read path of the collections. Postgres renders the JSON (in C) and Node passes the text
 * through, skipping entity hydration and JSON.stringify — GETs are the hot path of dashboards,
 * Terraform plans and the provider's drift checks. The shape is exactly publicConnector /
 * publicPipeline in objects.ts (test/api.test.ts compares them).
 */
const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const connectorJson = `json_build_object('id', id, 'name', name, 'kind', kind, 'config', config, 'tags', tags, 'version', version, 'created_at', ${ts('created_at')}, 'updated_at', ${ts('updated_at')})`;
const pipelineJson = `json_build_object('id', id, 'name', name, 'source_id', source_id, 'destination_id', destination_id, 'transform_ids', transform_ids, 'tables', tables,
  'ingestion_mode', ingestion_mode, 'snapshot_new_tables', snapshot_new_tables, 'delivery', delivery, 'desired_state', desired_state, 'tags', tags,
  'version', version, 'created_at', ${ts('created_at')}, 'updated_at', ${ts('updated_at')})`;

export interface Filter { column: 'category' | 'kind' | 'name'; value: string }

export class ReadModel {
  constructor(private readonly ds: DataSource) {}

  /** `{items,total,page,page_size}` as JSON text. */
  async list(table: 'connectors' | 'pipelines', filters: Filter[], page: number, pageSize: number): Promise<string> {
    const where = filters.length ? 'WHERE ' + filters.map((f, i) => `${f.column} = $${i + 1}`).join(' AND ') : '';
    const args = filters.map((f) => f.value);
    const json = table === 'connectors' ? connectorJson : pipelineJson;
    const [row] = await this.ds.query(
      `WITH page AS (SELECT * FROM ${table} ${where} ORDER BY created_at, id LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize})
       SELECT (SELECT count(*) FROM ${table} ${where})::int AS total,
              coalesce((SELECT json_agg(${json} ORDER BY created_at, id) FROM page), '[]')::text AS items`,
      args,
    );
    return `{"items":${row.items},"total":${row.total},"page":${page},"page_size":${pageSize}}`;
  }

  /** One object as JSON text plus its version (for the ETag), or undefined. */
  async get(table: 'connectors' | 'pipelines', id: string, category?: string): Promise<{ json: string; version: number } | undefined> {
    const json = table === 'connectors' ? connectorJson : pipelineJson;
    const rows = await this.ds.query(
      `SELECT ${json}::text AS json, version FROM ${table} WHERE id = $1 ${category ? 'AND category = $2' : ''}`,
      category ? [id, category] : [id],
    );
    return rows[0];
  }
}
