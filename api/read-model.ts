import { DataSource } from 'typeorm';
import { ChangeFeed } from './change-feed';
import { CoherentCache } from './coherent-cache';
import { pipelineFieldNames } from './objects';

/**
 * The read path of the collections. Postgres renders the JSON (in C) and Node passes the bytes
 * through, skipping entity hydration and JSON.stringify — GETs are the hot path of dashboards,
 * Terraform plans and the provider's drift checks. The shape is exactly publicConnector /
 * publicPipeline in objects.ts (test/api.test.ts compares them).
 *
 * Rendered responses are cached per process (CoherentCache): by id, and list pages per table.
 * Every committed change reaches the caches through the ChangeFeed (NOTIFY from a trigger, so
 * other API processes and SQL writers count too); the routes of this process also call
 * `written()` right after their commit, before they answer, so a client reads its own writes.
 */
const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const connectorJson = `json_build_object('id', id, 'name', name, 'kind', kind, 'config', config,
  'secrets_set', (SELECT coalesce(json_agg(k ORDER BY k), '[]'::json) FROM jsonb_object_keys(secrets) k), 'tags',
  tags, 'version', version, 'created_at', ${ts('created_at')}, 'updated_at', ${ts('updated_at')})`;
// The pipeline's columns are named like its declared fields (core/pipeline-spec.ts).
const pipelineJson = `json_build_object('id', id, ${pipelineFieldNames.map((f) => `'${f}', ${f}`).join(', ')},
  'version', version, 'created_at', ${ts('created_at')}, 'updated_at', ${ts('updated_at')})`;

export type Table = 'connectors' | 'pipelines';
export interface Filter {
  column: 'category' | 'kind' | 'name';
  value: string;
}

/** A response body ready to write; `etag` and `category` only for single objects. */
export interface Rendered {
  body: Buffer;
  etag?: string;
  category?: string;
}

const MiB = 1024 * 1024;
const listKey = (filters: Filter[], page: number, pageSize: number) => JSON.stringify([filters, page, pageSize]);
const sizeOf = (r: Rendered) => r.body.length + 100;

export class ReadModel {
  private readonly byId: Record<Table, CoherentCache<Rendered>>;
  private readonly lists: Record<Table, CoherentCache<Rendered>>;

  constructor(
    private readonly ds: DataSource,
    private readonly changes: ChangeFeed,
  ) {
    const cache = (table: Table, scope: 'row' | 'table', maxBytes: number) =>
      new CoherentCache<Rendered>(changes, table, scope, { maxBytes, sizeOf });
    this.byId = { connectors: cache('connectors', 'row', 32 * MiB), pipelines: cache('pipelines', 'row', 16 * MiB) };
    this.lists = {
      connectors: cache('connectors', 'table', 32 * MiB),
      pipelines: cache('pipelines', 'table', 16 * MiB),
    };
  }

  /** Call after a write to `table` committed and before answering it. */
  written(table: Table, id: string): void {
    this.changes.announce(table, id);
  }

  /** `{items,total,page,page_size}`. */
  list(table: Table, filters: Filter[], page: number, pageSize: number): Promise<Rendered> {
    return this.lists[table].get(listKey(filters, page, pageSize), async () => {
      const where = filters.length ? 'WHERE ' + filters.map((f, i) => `${f.column} = $${i + 1}`).join(' AND ') : '';
      const args = filters.map((f) => f.value);
      const json = table === 'connectors' ? connectorJson : pipelineJson;
      const [row] = await this.ds.query(
        `WITH page AS (SELECT * FROM ${table} ${where} ORDER BY created_at, id LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize})
         SELECT (SELECT count(*) FROM ${table} ${where})::int AS total,
                coalesce((SELECT json_agg(${json} ORDER BY created_at, id) FROM page), '[]')::text AS items`,
        args,
      );
      return {
        body: Buffer.from(`{"items":${row.items},"total":${row.total},"page":${page},"page_size":${pageSize}}`),
      };
    }) as Promise<Rendered>;
  }

  /** Cache hits only, for the hot path (hot-reads.ts); undefined means "ask list()/get()". */
  peekList(table: Table, filters: Filter[], page: number, pageSize: number): Rendered | undefined {
    return this.lists[table].peek(listKey(filters, page, pageSize));
  }

  peekGet(table: Table, id: string, category?: string): Rendered | undefined {
    const found = this.byId[table].peek(id);
    return found && found.category === category ? found : undefined;
  }

  /** One object with its ETag (its version), or undefined; a connector only in its own category. */
  async get(table: Table, id: string, category?: string): Promise<Rendered | undefined> {
    const found = await this.byId[table].get(id, async () => {
      const rows: { json: string; version: number; category?: string }[] = await this.ds.query(
        `SELECT ${table === 'connectors' ? connectorJson : pipelineJson}::text AS json, ` +
          `version${table === 'connectors' ? ', category' : ''} FROM ${table} WHERE id = $1`,
        [id],
      );
      return rows[0] && { body: Buffer.from(rows[0].json), etag: `"${rows[0].version}"`, category: rows[0].category };
    });
    return found && found.category === category ? found : undefined;
  }
}
