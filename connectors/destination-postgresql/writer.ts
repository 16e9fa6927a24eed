import { Pool, PoolClient } from 'pg';
import type { ColumnInfo } from '../../core/change-event';
import type { WriterOpts } from '../module';
import { isPgConnectionError, pgClientConfig, qualified, quoteIdent } from '../shared/postgres';
import { SqlTableWriter, TableDef, TypedRow } from '../shared/sql-writer';
import { pgErrorClass, toPgParam } from './values';

/** Postgres destination: the envelope's types are Postgres types, so columns are created with them as they are. */
export class PostgresqlWriter extends SqlTableWriter<PoolClient> {
  private pool: Pool;

  constructor(o: WriterOpts) {
    super(o);
    this.pool = new Pool({
      ...pgClientConfig(this.cfg, { application_name: `sluice-sink-${o.pipelineId.slice(0, 8)}` }),
      max: o.concurrency + 1,
      idleTimeoutMillis: 10000,
    });
    this.pool.on('error', () => undefined);
  }

  private get schema() {
    return this.cfg.schema ?? 'public';
  }
  private target(table: string) {
    return qualified(this.schema, table);
  }

  protected async acquire() {
    const c = await this.pool.connect();
    // The pool listens for errors only on idle clients. A socket reset while a client is checked out
    // would otherwise be an uncaught 'error' that kills the worker; the running query rejects anyway,
    // and the sink treats that as a connection error and retries.
    if (c.listenerCount('error') === 0) c.on('error', () => undefined);
    return c;
  }
  protected release(c: PoolClient, broken: boolean) {
    c.release(broken ? true : undefined);
  }
  protected async begin(c: PoolClient) {
    await c.query('BEGIN');
  }
  protected async commit(c: PoolClient) {
    await c.query('COMMIT');
  }
  protected async rollback(c: PoolClient) {
    await c.query('ROLLBACK');
  }

  protected async existingColumns(c: PoolClient, table: string) {
    const r = await c.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
      [this.schema, table],
    );
    return new Set<string>(r.rows.map((x) => x.column_name));
  }

  protected async createTable(c: PoolClient, d: TableDef) {
    const defs = d.columns.map((col) => `${quoteIdent(col.name)} ${col.type}`);
    if (d.mode === 'append')
      defs.push(
        '_sluice_op text NOT NULL',
        '_sluice_source_ts timestamptz',
        '_sluice_offset bigint NOT NULL',
        '_sluice_ingested_at timestamptz NOT NULL DEFAULT now()',
      );
    else {
      if (d.softDelete) defs.push('_sluice_deleted boolean NOT NULL DEFAULT false');
      if (d.keys.length) defs.push(`PRIMARY KEY (${d.keys.map((k) => quoteIdent(k.name)).join(', ')})`);
    }
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`).catch(() => undefined);
    await c.query(`CREATE TABLE IF NOT EXISTS ${this.target(d.table)} (${defs.join(', ')})`);
  }

  protected async addColumn(c: PoolClient, table: string, col: ColumnInfo) {
    await c.query(`ALTER TABLE ${this.target(table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(col.name)} ${col.type}`);
  }

  /**
   * One INSERT per group of rows with the same columns, whatever the number of rows: every column is
   * passed as ONE text[] parameter and unnested, then cast to the column's type in the select list.
   * A multi-row VALUES list with one parameter (and one cast) per value made Postgres parse, plan and
   * cast tens of thousands of parameters per statement; this is one parameter per column. The array
   * literal is built by node-postgres itself (its arrayString quoting). Columns go through text, not
   * through typed arrays, so array-typed columns (`integer[]`, whose unnest would flatten) and any
   * other type take the same path: `text::type` is the same input function as a typed parameter.
   */
  private async insert(c: PoolClient, table: string, rows: TypedRow[], conflict: string): Promise<void> {
    if (!rows.length) return;
    const colNames = Object.keys(rows[0].row);
    const types = colNames.map((n) => rows[0].types[n] ?? 'text');
    const cols: unknown[][] = colNames.map(() => new Array(rows.length));
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      for (let j = 0; j < colNames.length; j++) {
        const n = colNames[j];
        // A row whose type for a column differs from the first row's (a type change inside one batch) goes on its own.
        if ((r.types[n] ?? 'text') !== types[j]) {
          await this.insert(c, table, rows.slice(0, i), conflict);
          return this.insert(c, table, rows.slice(i), conflict);
        }
        cols[j][i] = toPgParam(r.row[n], types[j]);
      }
    }
    const alias = colNames.map((_, j) => `c${j}`);
    await c.query(
      `INSERT INTO ${this.target(table)} (${colNames.map(quoteIdent).join(', ')}) SELECT ${alias.map((a, j) => `u.${a}::${types[j]}`).join(', ')} ` +
        `FROM unnest(${alias.map((_, j) => `$${j + 1}::text[]`).join(', ')}) AS u(${alias.join(', ')}) ${conflict}`,
      cols,
    );
  }

  protected insertRows(c: PoolClient, table: string, rows: TypedRow[]) {
    return this.insert(c, table, rows, '');
  }

  protected upsertRows(c: PoolClient, table: string, rows: TypedRow[], keys: ColumnInfo[]) {
    const names = Object.keys(rows[0].row).filter((n) => !keys.some((k) => k.name === n));
    const set = names.length
      ? `DO UPDATE SET ${names.map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`).join(', ')}`
      : 'DO NOTHING';
    return this.insert(c, table, rows, `ON CONFLICT (${keys.map((k) => quoteIdent(k.name)).join(', ')}) ${set}`);
  }

  protected softDeleteRows(c: PoolClient, table: string, rows: TypedRow[], keys: ColumnInfo[]) {
    return this.insert(
      c,
      table,
      rows,
      `ON CONFLICT (${keys.map((k) => quoteIdent(k.name)).join(', ')}) DO UPDATE SET _sluice_deleted = true`,
    );
  }

  protected async deleteRows(c: PoolClient, table: string, rows: Record<string, unknown>[], keys: ColumnInfo[]) {
    const params: unknown[] = [];
    const tuples = rows.map(
      (row) =>
        '(' +
        keys
          .map((k) => {
            params.push(toPgParam(row[k.name], k.type));
            return `$${params.length}::${k.type}`;
          })
          .join(', ') +
        ')',
    );
    await c.query(
      `DELETE FROM ${this.target(table)} WHERE (${keys.map((k) => quoteIdent(k.name)).join(', ')}) IN (${tuples.join(', ')})`,
      params,
    );
  }

  protected async deleteAll(c: PoolClient, table: string, soft: boolean) {
    await c.query(
      soft ? `UPDATE ${this.target(table)} SET _sluice_deleted = true` : `DELETE FROM ${this.target(table)}`,
    );
  }

  protected async widenColumn(c: PoolClient, table: string, col: ColumnInfo) {
    await c.query(
      `ALTER TABLE ${this.target(table)} ALTER COLUMN ${quoteIdent(col.name)} TYPE ${col.type} USING ${quoteIdent(col.name)}::${col.type}`,
    );
  }

  protected async dropNotNull(c: PoolClient, table: string, column: string) {
    const r = await c.query(
      'SELECT is_nullable FROM information_schema.columns WHERE table_schema ' +
        '= $1 AND table_name = $2 AND column_name = $3',
      [this.schema, table, column],
    );
    // A primary-key column keeps its NOT NULL (Postgres refuses to drop it); rows without it cannot exist anyway.
    const key = await c.query(
      'SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = ' +
        'i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ' +
        '$1::regclass AND i.indisprimary AND a.attname = $2',
      [this.target(table), column],
    );
    if (r.rows[0]?.is_nullable === 'NO' && !key.rows.length)
      await c.query(`ALTER TABLE ${this.target(table)} ALTER COLUMN ${quoteIdent(column)} DROP NOT NULL`);
  }

  protected async replaceColumn(c: PoolClient, table: string, col: ColumnInfo) {
    await c.query(
      `ALTER TABLE ${this.target(table)} DROP COLUMN ${quoteIdent(col.name)}, ADD COLUMN ${quoteIdent(col.name)} ${col.type}`,
    );
  }

  protected isCatalogError(e: unknown) {
    const code = (e as { code?: string })?.code;
    return code === '42P01' || code === '42703';
  }
  protected isLostConnection(e: unknown) {
    return isPgConnectionError(e);
  }
  errorClass(e: unknown) {
    return pgErrorClass(e);
  }
  async close() {
    await this.pool.end().catch(() => undefined);
  }
}
