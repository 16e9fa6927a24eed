import type { Logger } from 'pino';
import type { ColumnInfo, Envelope } from '../core/change-event';
import { sleep } from '../core/retry';
import type { DestinationWriter, SchemaChangeSupport } from '../connectors/module';
import { ColumnChange, describeChange, diffColumns } from './schema-diff';

export type SchemaPolicy = 'propagate' | 'ignore_new_columns' | 'fail';

interface ControlQuery {
  query(sql: string, params?: unknown[]): Promise<any[]>;
}

/** A version of a source table's schema: the column list the destination follows from Kafka offset `from` on, and how records are shaped for it. */
interface TableSchema {
  version: number;
  columns: ColumnInfo[];
  /** ignore_new_columns: source columns left out downstream. */
  ignored: Set<string>;
  /** Resolutions `new_column`: source column -> destination column. */
  map: Record<string, string>;
  /** The offset (in the table's topic) of the first record of this version; null: from the start. */
  from: bigint | null;
}

/** What the sink does with a record, judged by its column list. */
export type Verdict = { kind: 'same'; adjust: ((e: Envelope) => Envelope) | null } | { kind: 'changed' };

/** Hooks the tracker needs from the sink while it applies a change. */
export interface ApplyHooks {
  writer: DestinationWriter;
  tableFor(schema: string, table: string): string;
  heartbeat(): Promise<void>;
  signal: AbortSignal;
  /** The sink's state while a table is held (null when it is released). */
  held(reason: string | null): void;
}

/**
 * The schema history of one pipeline, kept by its sink: for every source table the column list the
 * destination follows (table schema_history, one row per version with the changes and the source
 * position at which they took effect). A record whose column list differs is a schema change: under
 * the pipeline's policy (`schema_changes`) it is applied before the record is written (a new column,
 * a dropped column made nullable, a widened type altered), or the table is held — the sink writes
 * nothing more of it and reports Broken (`schema_changed`, `schema_incompatible`) — until an operator
 * acknowledges it (POST /v1/pipelines/:id/schema/ack, `sluice schema ack`). Records are judged in
 * order, so a change made in the same transaction as inserts is applied before those inserts.
 */
export class SchemaTracker {
  /** Every applied version of each table, oldest first. */
  private tables = new Map<string, TableSchema[]>();
  /** Per column list: its verdict against the newest version of its table. */
  private verdicts = new WeakMap<ColumnInfo[], { list: TableSchema[]; t: TableSchema; verdict: Verdict }>();

  /**
   * The version in effect at `offset`: after a restart the sink reads older records again (at least
   * once), which are judged by the version of their time, not as changes back and forth.
   */
  private at(versions: TableSchema[], offset: bigint): TableSchema | undefined {
    if (!versions.length) return undefined;
    for (let i = versions.length - 1; i > 0; i--)
      if (versions[i].from === null || offset >= versions[i].from!) return versions[i];
    return versions[0];
  }
  private latest(name: string): TableSchema | undefined {
    const v = this.tables.get(name);
    return v?.[v.length - 1];
  }
  private accept(name: string, v: TableSchema) {
    const list = this.tables.get(name) ?? [];
    list.push(v);
    this.tables.set(name, list);
  }

  constructor(
    private o: {
      pipelineId: string;
      policy: SchemaPolicy;
      support: SchemaChangeSupport;
      control: ControlQuery;
      log: Logger;
    },
  ) {}

  /** Loads the applied versions of every table of the pipeline (held or acknowledged ones are settled again). */
  async load(): Promise<void> {
    const rows = await this.o.control.query(
      `SELECT table_name, version, columns, ignored, column_map, kafka_offset FROM schema_history
       WHERE pipeline_id = $1 AND status = 'applied' ORDER BY table_name, version`,
      [this.o.pipelineId],
    );
    this.tables.clear();
    for (const r of rows)
      this.accept(r.table_name, {
        version: r.version,
        columns: r.columns,
        ignored: new Set(r.ignored),
        map: r.column_map ?? {},
        from: r.kafka_offset === null ? null : BigInt(r.kafka_offset),
      });
  }

  /**
   * Sync and cheap: same schema (with the shaping it needs), or a change to settle first. Cached per
   * column list (the sink shares one array per distinct header) while the table's newest version
   * stays the same and the record is not older than it; `offset` is the record's, as KafkaJS gives it.
   */
  verdict(env: Envelope, offset: string): Verdict {
    const cached = this.verdicts.get(env.columns);
    if (
      cached &&
      cached.list[cached.list.length - 1] === cached.t &&
      (cached.t.from === null || BigInt(offset) >= cached.t.from)
    )
      return cached.verdict;
    const list = this.tables.get(`${env.source.schema}.${env.source.table}`);
    const t = list ? this.at(list, BigInt(offset)) : undefined;
    if (!list || !t) return { kind: 'changed' };
    const changes = diffColumns(t.columns, env.columns).filter((c) => !(c.kind === 'added' && t.ignored.has(c.column)));
    const verdict: Verdict = changes.length ? { kind: 'changed' } : { kind: 'same', adjust: shaper(t) };
    if (t === list[list.length - 1]) this.verdicts.set(env.columns, { list, t, verdict });
    return verdict;
  }

  /**
   * Settles the change `env`'s column list makes to its table: records it, alters the destination, or
   * holds the table until an operator acknowledges (returns then). Afterwards verdict(env) is `same`.
   */
  async settle(env: Envelope, at: { partition: number; offset: bigint }, hooks: ApplyHooks): Promise<void> {
    const name = `${env.source.schema}.${env.source.table}`;
    const position = env.source.lsn ?? (env.source.snapshot ? 'snapshot' : null);
    const t = this.latest(name);
    if (!t) {
      await this.record(
        name,
        { version: 1, columns: env.columns, ignored: new Set(), map: {}, from: null },
        [],
        position,
        at,
        'applied',
        null,
      );
      return;
    }
    const changes = diffColumns(t.columns, env.columns).filter((c) => !(c.kind === 'added' && t.ignored.has(c.column)));
    if (!changes.length) return;
    const what = changes.map(describeChange).join('; ');
    const version = t.version + 1;
    const incompatible = changes.filter((c) => this.incompatible(c));
    let resolution: string | null = null;
    if (incompatible.length || this.o.policy === 'fail') {
      const first = incompatible[0];
      const reason = incompatible.length
        ? `schema_incompatible: ` +
          `table ${name}: ${incompatible.map(describeChange).join('; ')}` +
          (first.kind === 'key_changed'
            ? ''
            : ` cannot be applied to the ${hooks.tableFor(env.source.schema, env.source.table)} destination table ` +
              `without changing its values`) +
          `. ` +
          (`Choose: resnapshot the table (the destination column is recreated with the new type and the table ` +
            `snapshotted again: \`sluice schema ack <pipeline> --table ${name} --resolution resnapshot\`), `) +
          `or switch the table to a new destination column (${first.column}_v${version} from now on, the old column kept: \`--resolution new_column\`)`
        : `schema_changed: table ${name}: ${what} (schema_changes is fail). Acknowledge to apply ` +
          `it and go on: \`sluice schema ack <pipeline>\` or POST /v1/pipelines/<id>/schema/ack`;
      await this.record(
        name,
        { version, columns: env.columns, ignored: t.ignored, map: t.map, from: at.offset },
        changes,
        position,
        at,
        'held',
        reason,
      );
      this.o.log.warn({ table: name, changes: what, version }, 'schema change: table held until acknowledged');
      resolution = await this.hold(name, version, reason, hooks, incompatible.length > 0);
    }
    const ignored = new Set(t.ignored);
    const map = { ...t.map };
    const destTable = hooks.tableFor(env.source.schema, env.source.table);
    for (const c of changes) {
      const col = env.columns.find((x) => x.name === c.column);
      if (c.kind === 'added' && this.o.policy === 'ignore_new_columns' && !col?.key) {
        ignored.add(c.column);
        continue;
      }
      if (c.kind === 'dropped' && this.o.support.drop === 'nullable') {
        const old = t.columns.find((x) => x.name === c.column)!;
        await hooks.writer.alterColumn?.(destTable, 'nullable', { ...old, name: map[old.name] ?? old.name });
      }
      if ((c.kind === 'retyped' || c.kind === 'key_changed') && col) {
        if (this.incompatible(c)) {
          if (resolution === 'new_column') map[c.column] = `${c.column}_v${version}`;
          else if (resolution === 'resnapshot') {
            await hooks.writer.alterColumn?.(destTable, 'replace', { ...col, name: map[col.name] ?? col.name });
            await this.o.control.query(
              'INSERT INTO snapshots (pipeline_id, tables, mode, reason) VALUES ($1, ' +
                "$2, 'incremental', 'schema_resnapshot')",
              [this.o.pipelineId, JSON.stringify([name])],
            );
          }
        } else if (this.o.support.widen === 'alter')
          await hooks.writer.alterColumn?.(destTable, 'widen', { ...col, name: map[col.name] ?? col.name });
      }
    }
    const next: TableSchema = { version, columns: env.columns, ignored, map, from: at.offset };
    if (resolution === null && this.o.policy !== 'fail')
      await this.record(name, next, changes, position, at, 'applied', null);
    else {
      // Applied only now, after its alterations: a restart before this line takes the acknowledged version up again.
      await this.o.control.query(
        "UPDATE schema_history SET status = 'applied', ignored = $4, " +
          'column_map = $5 WHERE pipeline_id = $1 AND table_name = $2 AND ' +
          'version = $3',
        [this.o.pipelineId, name, version, JSON.stringify([...ignored]), JSON.stringify(map)],
      );
      this.accept(name, next);
    }
    this.o.log.info({ table: name, changes: what, version, resolution }, 'schema change applied downstream');
  }

  /** A change this destination cannot follow without changing values: a retype it cannot widen, or a primary-key change. */
  private incompatible(c: ColumnChange): boolean {
    if (c.kind === 'key_changed') return true;
    if (c.kind !== 'retyped') return false;
    if (this.o.support.retype === 'free') return false;
    return !c.widening || this.o.support.widen === 'no';
  }

  private async record(
    table: string,
    v: TableSchema,
    changes: ColumnChange[],
    position: string | null,
    at: { partition: number; offset: bigint },
    status: string,
    reason: string | null,
  ) {
    await this.o.control.query(
      `INSERT INTO schema_history (pipeline_id, table_name, version, columns, changes, ignored, column_map, position,
      kafka_partition, kafka_offset, status, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (pipeline_id, table_name, version) DO NOTHING`,
      [
        this.o.pipelineId,
        table,
        v.version,
        JSON.stringify(v.columns),
        JSON.stringify(changes),
        JSON.stringify([...v.ignored]),
        JSON.stringify(v.map),
        position,
        at.partition,
        v.from === null ? null : v.from.toString(),
        status,
        reason,
      ],
    );
    if (status === 'applied') this.accept(table, v);
  }

  /** Waits (reporting Broken) until the held version is acknowledged; returns its resolution. */
  private async hold(
    table: string,
    version: number,
    reason: string,
    hooks: ApplyHooks,
    needsResolution: boolean,
  ): Promise<string | null> {
    hooks.held(reason);
    try {
      while (true) {
        if (hooks.signal.aborted) throw new SchemaHoldAborted();
        const r = await this.o.control
          .query(
            `SELECT status, resolution FROM schema_history WHERE pipeline_id = $1 AND table_name = $2 AND version = $3`,
            [this.o.pipelineId, table, version],
          )
          .catch(() => []);
        if (r[0]?.status === 'applied' || (r[0]?.status === 'acknowledged' && (!needsResolution || r[0].resolution)))
          return r[0].resolution ?? null;
        await hooks.heartbeat().catch(() => undefined);
        await sleep(1000, hooks.signal);
      }
    } finally {
      hooks.held(null);
    }
  }
}

/** The runner stopped while a table was held: nothing was written, the offsets stay where they are. */
export class SchemaHoldAborted extends Error {
  constructor() {
    super('stopped while a schema change was held');
    this.name = 'SchemaHoldAborted';
  }
}

/** Shapes records for a table with ignored or remapped columns (null when none: records go as they are). */
function shaper(t: TableSchema): ((e: Envelope) => Envelope) | null {
  if (!t.ignored.size && !Object.keys(t.map).length) return null;
  const shaped = new WeakMap<ColumnInfo[], ColumnInfo[]>();
  const row = (r: Record<string, unknown> | null) => {
    if (!r) return r;
    for (const c of t.ignored) delete r[c];
    for (const [from, to] of Object.entries(t.map))
      if (from in r) {
        r[to] = r[from];
        delete r[from];
      }
    return r;
  };
  return (e) => {
    let cols = shaped.get(e.columns);
    if (!cols) {
      cols = e.columns
        .filter((c) => !t.ignored.has(c.name))
        .map((c) => (t.map[c.name] ? { ...c, name: t.map[c.name] } : c));
      shaped.set(e.columns, cols);
    }
    e.before = row(e.before);
    e.after = row(e.after);
    e.columns = cols;
    return e;
  };
}
