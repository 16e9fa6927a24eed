import { ColumnInfo, Envelope, keyString } from '../../core/change-event';
import { DestinationConnectError } from '../../core/errors';
import type { DestinationWriter, WriterOpts } from '../module';

/** Destination settings shared by the SQL destinations (`schema` is Postgres-only). */
export interface SqlDestConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  tls_mode?: string;
  schema?: string;
  table_name_format: string;
  ingestion_mode: 'upsert' | 'append';
  hard_delete: boolean;
  batch_size: number;
  flush_interval_ms: number;
}

/**
 * A row to write plus each column's type in the envelope's type vocabulary (Postgres format_type
 * names, see workers/envelope.ts); every dialect maps those types to its own.
 */
export interface TypedRow {
  row: Record<string, unknown>;
  types: Record<string, string>;
}

/** Metadata columns of append mode (design.md, delivery semantics) and soft deletes. */
export const APPEND_COLUMNS = ['_sluice_op', '_sluice_source_ts', '_sluice_offset', '_sluice_ingested_at'];
export const SOFT_DELETE_COLUMN = '_sluice_deleted';

export interface TableDef {
  table: string;
  columns: ColumnInfo[];
  keys: ColumnInfo[];
  mode: 'upsert' | 'append';
  softDelete: boolean;
}

/**
 * Applies change events to a SQL destination. The algorithm (grouping per table, per-key merge in
 * upsert mode, metadata in append mode, table creation and widening) lives here once; a subclass
 * per destination kind supplies the connection handling and the SQL dialect.
 */
export abstract class SqlTableWriter<C> implements DestinationWriter {
  /** Columns known to exist per destination table (filled from the catalog once, then by our DDL). */
  private known = new Map<string, Set<string>>();
  protected cfg: SqlDestConfig;

  constructor(protected o: WriterOpts) {
    this.cfg = o.cfg as SqlDestConfig;
  }

  // ---------- the dialect ----------
  protected abstract acquire(): Promise<C>;
  /** Returns the connection; `broken` = destroy it rather than reuse it. */
  protected abstract release(c: C, broken: boolean): void;
  protected abstract begin(c: C): Promise<void>;
  protected abstract commit(c: C): Promise<void>;
  protected abstract rollback(c: C): Promise<void>;
  /** Column names of the table, empty when the table does not exist. */
  protected abstract existingColumns(c: C, table: string): Promise<Set<string>>;
  /** Creates the table (and its schema or database) with the metadata columns the definition asks for. */
  protected abstract createTable(c: C, def: TableDef): Promise<void>;
  protected abstract addColumn(c: C, table: string, col: ColumnInfo): Promise<void>;
  /** Plain multi-row insert. */
  protected abstract insertRows(c: C, table: string, rows: TypedRow[]): Promise<void>;
  /** Multi-row insert that replaces the non-key columns given on a key conflict. */
  protected abstract upsertRows(c: C, table: string, rows: TypedRow[], keys: ColumnInfo[]): Promise<void>;
  /** Sets the soft-delete flag, inserting a key-only row where none exists. */
  protected abstract softDeleteRows(c: C, table: string, rows: TypedRow[], keys: ColumnInfo[]): Promise<void>;
  protected abstract deleteRows(
    c: C,
    table: string,
    rows: Record<string, unknown>[],
    keys: ColumnInfo[],
  ): Promise<void>;
  /** Truncate event: delete (or soft-delete) every row. */
  protected abstract deleteAll(c: C, table: string, soft: boolean): Promise<void>;
  /** Alters a column's type in place to `col.type` (a widening: every value fits). */
  protected abstract widenColumn(c: C, table: string, col: ColumnInfo): Promise<void>;
  /** Drops a NOT NULL constraint of the column, if it has one (the source dropped the column). */
  protected abstract dropNotNull(c: C, table: string, column: string): Promise<void>;
  /** Drops the column and adds it again with `col.type` (its values are gone: a snapshot fills them again). */
  protected abstract replaceColumn(c: C, table: string, col: ColumnInfo): Promise<void>;
  /** True when the error means our cached catalog is stale (table or column dropped behind our back). */
  protected abstract isCatalogError(e: unknown): boolean;
  /** Whether an error of a statement means the connection broke (as opposed to the server rejecting it). */
  protected abstract isLostConnection(e: unknown): boolean;
  /** DLQ error class of an error the destination raised. */
  abstract errorClass(e: unknown): string;
  abstract close(): Promise<void>;

  // ---------- the algorithm ----------

  /** Whether the error means "the server is not reachable now" (retry without limit) rather than a rejected record. */
  isConnectionError(e: unknown): boolean {
    return e instanceof DestinationConnectError || this.isLostConnection(e);
  }

  /** A connection for one write: failing to get one is the server's fault, whatever its SQLSTATE (55000: not accepting connections). */
  private async connect(): Promise<C> {
    try {
      return await this.acquire();
    } catch (e) {
      throw new DestinationConnectError(e);
    }
  }

  /** A schema change, applied before the records that need it (the table may not exist yet: then there is nothing to alter). */
  async alterColumn(table: string, kind: 'widen' | 'nullable' | 'replace', col: ColumnInfo): Promise<void> {
    const c = await this.connect();
    let broken = false;
    try {
      const have = await this.existingColumns(c, table);
      if (!have.has(col.name)) return;
      if (kind === 'widen') await this.widenColumn(c, table, col);
      else if (kind === 'nullable') await this.dropNotNull(c, table, col.name);
      else await this.replaceColumn(c, table, col);
      this.o.log.info(
        { table, column: col.name, change: kind, type: col.type },
        'destination column altered for a schema change',
      );
    } catch (e) {
      broken = this.isConnectionError(e);
      throw e;
    } finally {
      this.known.delete(table);
      this.release(c, broken);
    }
  }

  /** Writes the events (in order; offsets[i] belongs to envs[i]) in one destination transaction. */
  async write(envs: Envelope[], offsets: string[], tableFor: (schema: string, table: string) => string): Promise<void> {
    const c = await this.connect();
    let broken = false;
    try {
      // Group by destination table, keep order inside each.
      const byTable = new Map<string, { envs: Envelope[]; offsets: string[] }>();
      envs.forEach((e, i) => {
        const t = tableFor(e.source.schema, e.source.table);
        let g = byTable.get(t);
        if (!g) byTable.set(t, (g = { envs: [], offsets: [] }));
        g.envs.push(e);
        g.offsets.push(offsets[i] ?? '0');
      });
      for (const [table, g] of byTable) {
        const cols = new Map<string, ColumnInfo>();
        for (const e of g.envs) for (const col of e.columns ?? []) cols.set(col.name, col);
        try {
          await this.ensureTable(c, table, [...cols.values()]);
        } catch (e) {
          this.known.delete(table);
          throw e;
        }
      }
      await this.begin(c);
      for (const [table, g] of byTable) {
        if (this.o.mode === 'append') await this.writeAppend(c, table, g.envs, g.offsets);
        else await this.writeUpsert(c, table, g.envs);
      }
      await this.commit(c);
    } catch (e) {
      broken = this.isConnectionError(e);
      await this.rollback(c).catch(() => {
        broken = true;
      });
      if (this.isCatalogError(e)) this.known.clear();
      throw e;
    } finally {
      this.release(c, broken);
    }
  }

  private async ensureTable(c: C, table: string, columns: ColumnInfo[]) {
    let have = this.known.get(table);
    if (!have) {
      have = await this.existingColumns(c, table);
      if (!have.size) {
        const append = this.o.mode === 'append';
        const softDelete = !append && !this.cfg.hard_delete;
        await this.createTable(c, {
          table,
          columns,
          keys: columns.filter((k) => k.key),
          mode: this.o.mode,
          softDelete,
        });
        this.o.log.info({ table }, 'destination table created');
        have = new Set([
          ...columns.map((x) => x.name),
          ...(append ? APPEND_COLUMNS : softDelete ? [SOFT_DELETE_COLUMN] : []),
        ]);
      }
      this.known.set(table, have);
    }
    for (const col of columns) {
      if (have.has(col.name)) continue;
      await this.addColumn(c, table, col);
      this.o.log.info({ table, column: col.name }, 'destination column added');
      have.add(col.name);
    }
  }

  /**
   * Column name -> type of a column list, built once per list and variant (the sink shares one list
   * among all records with the same `sluice.columns` header) instead of a lookup per value. A
   * variant adds the metadata columns. The objects are shared by many rows: writers only read them.
   */
  private typeMaps = new WeakMap<ColumnInfo[], Partial<Record<'plain' | 'soft' | 'append', Record<string, string>>>>();
  private typesOf(cols: ColumnInfo[], variant: 'plain' | 'soft' | 'append'): Record<string, string> {
    let m = this.typeMaps.get(cols);
    if (!m) this.typeMaps.set(cols, (m = {}));
    let t = m[variant];
    if (!t) {
      t = Object.create(null) as Record<string, string>;
      for (const c of cols) if (!(c.name in t)) t[c.name] = c.type;
      if (variant === 'soft') t[SOFT_DELETE_COLUMN] = 'boolean';
      if (variant === 'append')
        Object.assign(t, {
          _sluice_op: 'text',
          _sluice_source_ts: 'timestamp with time zone',
          _sluice_offset: 'bigint',
        });
      m[variant] = t;
    }
    return t;
  }

  /** `copy`: the row is copied (the caller adds metadata to it); otherwise it is used as it is. */
  private typed(
    e: Envelope,
    img: Record<string, unknown>,
    variant: 'plain' | 'soft' | 'append' = 'plain',
    copy = true,
  ): TypedRow {
    const base = this.typesOf(e.columns ?? [], variant);
    const row = copy ? { ...img } : img;
    for (const k in row) {
      if (k in base) continue;
      // A field the column list does not name (e.g. added by a transform): its own types object, as text.
      const types: Record<string, string> = Object.assign(Object.create(null), base);
      for (const k2 in row) if (!(k2 in types)) types[k2] = 'text';
      return { row, types };
    }
    return { row, types: base };
  }

  /** Rows with the same columns go into one multi-row statement. */
  private static bySignature(rows: TypedRow[]): TypedRow[][] {
    const groups = new Map<string, TypedRow[]>();
    // Consecutive rows usually have the same columns: compare with the previous row's before joining a signature.
    let prevKeys: string[] = [];
    let prev: TypedRow[] | undefined;
    for (const r of rows) {
      const keys = Object.keys(r.row);
      let same = prev !== undefined && keys.length === prevKeys.length;
      for (let i = 0; same && i < keys.length; i++) same = keys[i] === prevKeys[i];
      if (!same) {
        const sig = keys.join(',');
        prev = groups.get(sig);
        if (!prev) groups.set(sig, (prev = []));
        prevKeys = keys;
      }
      prev!.push(r);
    }
    return [...groups.values()];
  }

  private async writeAppend(c: C, table: string, envs: Envelope[], offsets: string[]) {
    const rows: TypedRow[] = [];
    envs.forEach((e, i) => {
      if (e.op === 't') return;
      const r = this.typed(e, (e.op === 'd' ? e.before : e.after) ?? {}, 'append');
      r.row._sluice_op = e.op;
      r.row._sluice_source_ts = new Date(e.source.ts_ms).toISOString();
      r.row._sluice_offset = offsets[i];
      rows.push(r);
    });
    for (const g of SqlTableWriter.bySignature(rows)) await this.insertRows(c, table, g);
  }

  private async writeUpsert(c: C, table: string, envs: Envelope[]) {
    const hardDelete = this.cfg.hard_delete;
    const sample = envs.find((e) => e.columns?.length) ?? envs[0];
    const keyCols = (sample.columns ?? []).filter((k) => k.key);
    if (!keyCols.length) {
      // No primary key: nothing to merge on; inserts are appended.
      const rows = envs.filter((e) => e.after && e.op !== 'u').map((e) => this.typed(e, e.after!, 'plain', false));
      for (const g of SqlTableWriter.bySignature(rows)) await this.insertRows(c, table, g);
      return;
    }
    // Per key the last image wins inside the batch; updates are merged so columns absent from a
    // later image (unchanged TOAST values) keep the earlier one.
    let pending = new Map<string, { op: 'u' | 'd'; row: Record<string, unknown>; e: Envelope }>();
    const flush = async () => {
      const upserts: TypedRow[] = [];
      const deletes: { row: Record<string, unknown>; e: Envelope }[] = [];
      for (const p of pending.values()) {
        if (p.op === 'd') {
          deletes.push(p);
          continue;
        }
        // p.row is this batch's own object (see below): soft mode may add the flag to it.
        const r = this.typed(p.e, p.row, hardDelete ? 'plain' : 'soft', false);
        if (!hardDelete) r.row[SOFT_DELETE_COLUMN] = false;
        upserts.push(r);
      }
      if (deletes.length) {
        if (hardDelete)
          await this.deleteRows(
            c,
            table,
            deletes.map((d) => d.row),
            keyCols,
          );
        else {
          const rows = deletes.map((d) => {
            const r: TypedRow = { row: {}, types: {} };
            for (const k of keyCols) {
              r.row[k.name] = d.row[k.name];
              r.types[k.name] = k.type;
            }
            r.row[SOFT_DELETE_COLUMN] = true;
            r.types[SOFT_DELETE_COLUMN] = 'boolean';
            return r;
          });
          await this.softDeleteRows(c, table, rows, keyCols);
        }
      }
      for (const g of SqlTableWriter.bySignature(upserts)) await this.upsertRows(c, table, g, keyCols);
      pending = new Map();
    };
    for (const e of envs) {
      if (e.op === 't') {
        await flush();
        await this.deleteAll(c, table, !hardDelete);
        continue;
      }
      if (e.op === 'd') {
        if (!e.before) continue;
        const k = keyString(keyCols, e.before);
        pending.delete(k);
        pending.set(k, { op: 'd', row: e.before, e });
        continue;
      }
      if (!e.after) continue;
      const k = keyString(keyCols, e.after);
      if (e.op === 'u' && e.before) {
        const old = keyString(keyCols, e.before);
        if (old !== k && keyCols.every((kc) => e.before![kc.name] !== undefined)) {
          pending.delete(old);
          pending.set(old, { op: 'd', row: e.before, e });
        }
      }
      const prev = pending.get(k);
      // A copy only when it is needed: merging with an earlier image, or soft mode adding its flag.
      const row = prev && prev.op === 'u' ? { ...prev.row, ...e.after } : hardDelete ? e.after : { ...e.after };
      pending.delete(k);
      pending.set(k, { op: 'u', row, e });
    }
    await flush();
  }
}
