import * as mysql from 'mysql2/promise';
import type { ColumnInfo } from '../../core/change-event';
import type { WriterOpts } from '../module';
import { isMysqlConnectionError, mysqlConnectionOptions, quoteMysqlIdent } from '../shared/mysql';
import { SqlTableWriter, TableDef, TypedRow } from '../shared/sql-writer';
import { mysqlErrorClass } from './errors';

type Conn = mysql.PoolConnection;

/** Longest VARCHAR kept as VARCHAR: 16383 utf8mb4 characters fill the 65,535-byte row limit; longer ones become LONGTEXT. */
const MAX_VARCHAR = 16383;
/**
 * Key columns must be indexable: InnoDB keys hold at most 3072 bytes, i.e. 768 utf8mb4 characters.
 * Unbounded key types (text, unconstrained numeric, enums, ...) become VARCHAR(255) so a key of up to
 * three such columns fits; a longer key value is rejected (strict mode) and goes to the DLQ, never truncated.
 */
const KEY_TEXT = 'VARCHAR(255)';

/**
 * The MySQL column type for an envelope column type (Postgres format_type vocabulary, which the
 * MySQL source emits too). Faithful first: the type must hold every value the source can produce,
 * or reject it, never round it silently.
 */
export function mysqlColumnType(col: Pick<ColumnInfo, 'type' | 'key'>): string {
  const t = col.type.trim().toLowerCase();
  const key = col.key;
  let m: RegExpExecArray | null;
  if (t.endsWith('[]')) return key ? KEY_TEXT : 'LONGTEXT'; // the Postgres array literal, as text (exact, reversible)
  switch (t) {
    case 'smallint':
      return 'SMALLINT';
    case 'integer':
      return 'INT';
    case 'bigint':
      return 'BIGINT';
    case 'real':
      return 'FLOAT';
    case 'double precision':
      return 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    case 'date':
      return 'DATE';
    case 'uuid':
      return 'CHAR(36)';
    case 'json':
    case 'jsonb':
      return key ? KEY_TEXT : 'JSON';
    case 'bytea':
      return key ? 'VARBINARY(767)' : 'LONGBLOB';
    // Unconstrained numeric holds any number of digits: DECIMAL(65,30) would reject values beyond 35
    // integer digits (1e40) and pad every value to 30 decimals, so the exact decimal text is kept instead.
    case 'numeric':
      return key ? KEY_TEXT : 'LONGTEXT';
    case 'timestamp with time zone':
      return 'DATETIME(6)'; // values are converted to UTC
    case 'timestamp without time zone':
      return 'DATETIME(6)';
    case 'time without time zone':
      return 'TIME(6)';
  }
  if ((m = /^numeric\((\d+),(-?\d+)\)$/.exec(t))) {
    const [p, s] = [Number(m[1]), Number(m[2])];
    if (p <= 65 && s >= 0 && s <= 30 && s <= p) return `DECIMAL(${p},${s})`;
    return key ? KEY_TEXT : 'LONGTEXT';
  }
  if ((m = /^timestamp\((\d)\) with(out)? time zone$/.exec(t))) return `DATETIME(${m[1]})`;
  if ((m = /^time\((\d)\) without time zone$/.exec(t))) return `TIME(${m[1]})`;
  // character(n) too: Postgres pads it with spaces and so does its text; VARCHAR keeps the padded text exactly.
  if ((m = /^(?:character varying|character)\((\d+)\)$/.exec(t))) {
    const n = Number(m[1]);
    if (key) return `VARCHAR(${Math.min(n, 768)})`;
    return n <= MAX_VARCHAR ? `VARCHAR(${n})` : 'LONGTEXT';
  }
  // text, character varying, enums and every other type: their text form.
  return key ? KEY_TEXT : 'LONGTEXT';
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A timestamp with an offset (Postgres `2024-01-01 12:00:00.5+05:30`, ISO `...T...Z`) as a UTC
 * DATETIME literal. The fraction is carried as text so microseconds stay exact. Anything else (BC
 * dates, infinity) is passed on unchanged for the server to reject.
 */
export function toUtcDatetime(v: string): string {
  const m =
    /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/.exec(
      v.trim(),
    );
  if (!m) return v;
  let offset = 0;
  const z = m[8];
  if (z && z !== 'Z') {
    const sign = z[0] === '-' ? -1 : 1;
    const parts = z.slice(1).replace(/:/g, '');
    offset =
      sign * (Number(parts.slice(0, 2)) * 3600 + Number(parts.slice(2, 4) || 0) * 60 + Number(parts.slice(4, 6) || 0));
  }
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]) - offset, 0);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return `${date} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${m[7] ?? ''}`;
}

/** JSON value (envelope conventions, workers/envelope.ts fromPgText) -> a mysql2 parameter for the column type. */
export function toMysqlParam(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  const t = type.toLowerCase();
  if (t === 'bytea' && typeof value === 'string')
    return value.startsWith('\\x') ? Buffer.from(value.slice(2), 'hex') : Buffer.from(value, 'utf8');
  if (typeof value === 'string' && t.startsWith('timestamp'))
    return t.endsWith('with time zone') && !t.includes('without') ? toUtcDatetime(value) : value.replace('T', ' ');
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

const STRICT_SESSION =
  // Strict: a value the column cannot hold is an error (retries, then DLQ), never a silent truncation or zero date.
  'SET SESSION sql_mode = ' +
  "'STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', " +
  "time_zone = '+00:00'";

/** Rows per INSERT are bounded by size too: the server refuses packets above max_allowed_packet (16 MiB by default). */
const MAX_STATEMENT_BYTES = 4 * 1024 * 1024;

/** MySQL / MariaDB destination: tables in the configured database, created with mapped types (mysqlColumnType). */
export class MysqlWriter extends SqlTableWriter<Conn> {
  private pool: mysql.Pool;
  private prepared = new WeakSet<object>();
  private collation: string | null = null;
  private timeoutMs = Number(process.env.SLUICE_DB_QUERY_TIMEOUT_MS ?? 30000);

  constructor(o: WriterOpts) {
    super(o);
    // Every name is qualified with the database, which is created on first write.
    this.pool = mysql.createPool({
      ...mysqlConnectionOptions(this.cfg),
      connectionLimit: o.concurrency + 1,
      maxIdle: o.concurrency + 1,
      idleTimeout: 10000,
      enableKeepAlive: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
  }

  private target(table: string) {
    return `${quoteMysqlIdent(this.cfg.database)}.${quoteMysqlIdent(table)}`;
  }
  private q(c: Conn, sql: string, values: unknown[] = []) {
    return c.query({ sql, timeout: this.timeoutMs }, values);
  }

  protected async acquire(): Promise<Conn> {
    const c = await this.pool.getConnection();
    const core = (c as unknown as { connection: object }).connection;
    if (!this.prepared.has(core)) {
      try {
        await this.q(c, STRICT_SESSION);
        if (!this.collation) {
          const [rows] = await this.q(c, 'SELECT VERSION() AS v');
          const v = String((rows as { v: string }[])[0].v);
          // Binary, NO PAD collations: keys compare exactly like in the source ('a' <> 'A', 'a' <> 'a ').
          this.collation = /mariadb/i.test(v)
            ? 'utf8mb4_nopad_bin'
            : /^[89]\./.test(v)
              ? 'utf8mb4_0900_bin'
              : 'utf8mb4_bin';
        }
      } catch (e) {
        c.destroy();
        throw e;
      }
      this.prepared.add(core);
    }
    return c;
  }
  protected release(c: Conn, broken: boolean) {
    if (broken) c.destroy();
    else c.release();
  }
  protected async begin(c: Conn) {
    await this.q(c, 'START TRANSACTION');
  }
  protected async commit(c: Conn) {
    await this.q(c, 'COMMIT');
  }
  protected async rollback(c: Conn) {
    await this.q(c, 'ROLLBACK');
  }

  protected async existingColumns(c: Conn, table: string) {
    const [rows] = await this.q(
      c,
      'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [this.cfg.database, table],
    );
    return new Set<string>((rows as { c: string }[]).map((x) => x.c));
  }

  protected async createTable(c: Conn, d: TableDef) {
    const defs = d.columns.map(
      (col) =>
        `${quoteMysqlIdent(col.name)} ${mysqlColumnType(col)}${col.key && d.mode === 'upsert' ? ' NOT NULL' : ''}`,
    );
    if (d.mode === 'append')
      defs.push(
        '`_sluice_op` VARCHAR(1) NOT NULL',
        '`_sluice_source_ts` DATETIME(6) NULL',
        '`_sluice_offset` BIGINT NOT NULL',
        '`_sluice_ingested_at` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)',
      );
    else {
      if (d.softDelete) defs.push('`_sluice_deleted` BOOLEAN NOT NULL DEFAULT FALSE');
      if (d.keys.length) defs.push(`PRIMARY KEY (${d.keys.map((k) => quoteMysqlIdent(k.name)).join(', ')})`);
    }
    await this.q(c, `CREATE DATABASE IF NOT EXISTS ${quoteMysqlIdent(this.cfg.database)} CHARACTER SET utf8mb4`);
    await this.q(
      c,
      `CREATE TABLE IF NOT EXISTS ${this.target(d.table)} (${defs.join(', ')}) ` +
        `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${this.collation ?? 'utf8mb4_bin'}`,
    );
  }

  protected async addColumn(c: Conn, table: string, col: ColumnInfo) {
    // Plain ADD COLUMN (MySQL 8 has no IF NOT EXISTS); a column another writer added meanwhile is fine.
    try {
      await this.q(
        c,
        `ALTER TABLE ${this.target(table)} ADD COLUMN ${quoteMysqlIdent(col.name)} ${mysqlColumnType({ ...col, key: false })}`,
      );
    } catch (e) {
      if ((e as { code?: string }).code !== 'ER_DUP_FIELDNAME') throw e;
    }
  }

  private async insert(c: Conn, table: string, rows: TypedRow[], tail: string) {
    if (!rows.length) return;
    const names = Object.keys(rows[0].row);
    const head = `INSERT INTO ${this.target(table)} (${names.map(quoteMysqlIdent).join(', ')}) VALUES `;
    const tuple = '(' + names.map(() => '?').join(', ') + ')';
    let params: unknown[] = [];
    let n = 0;
    let bytes = 0;
    const flush = async () => {
      if (!n) return;
      await this.q(c, head + Array(n).fill(tuple).join(', ') + tail, params);
      params = [];
      n = 0;
      bytes = 0;
    };
    for (const r of rows) {
      for (const name of names) {
        const v = toMysqlParam(r.row[name], r.types[name]);
        bytes +=
          v == null
            ? 4
            : Buffer.isBuffer(v)
              ? 2 * v.length + 3
              : typeof v === 'string'
                ? 2 * Buffer.byteLength(v) + 2
                : 24;
        params.push(v);
      }
      n++;
      if (bytes >= MAX_STATEMENT_BYTES) await flush();
    }
    await flush();
  }

  protected insertRows(c: Conn, table: string, rows: TypedRow[]) {
    return this.insert(c, table, rows, '');
  }

  protected upsertRows(c: Conn, table: string, rows: TypedRow[], keys: ColumnInfo[]) {
    const names = Object.keys(rows[0].row).filter((n) => !keys.some((k) => k.name === n));
    // VALUES(col): MariaDB has no row alias (`AS new`), and MySQL 8 still accepts VALUES() (deprecated, a warning).
    const set = names.length
      ? names.map((n) => `${quoteMysqlIdent(n)} = VALUES(${quoteMysqlIdent(n)})`)
      : [`${quoteMysqlIdent(keys[0].name)} = ${quoteMysqlIdent(keys[0].name)}`];
    return this.insert(c, table, rows, ` ON DUPLICATE KEY UPDATE ${set.join(', ')}`);
  }

  protected softDeleteRows(c: Conn, table: string, rows: TypedRow[]) {
    return this.insert(c, table, rows, ' ON DUPLICATE KEY UPDATE `_sluice_deleted` = TRUE');
  }

  protected async deleteRows(c: Conn, table: string, rows: Record<string, unknown>[], keys: ColumnInfo[]) {
    const cols =
      keys.length === 1 ? quoteMysqlIdent(keys[0].name) : `(${keys.map((k) => quoteMysqlIdent(k.name)).join(', ')})`;
    const tuple = keys.length === 1 ? '?' : `(${keys.map(() => '?').join(', ')})`;
    for (let i = 0; i < rows.length; i += 1000) {
      const part = rows.slice(i, i + 1000);
      const params = part.flatMap((row) => keys.map((k) => toMysqlParam(row[k.name], k.type)));
      await this.q(
        c,
        `DELETE FROM ${this.target(table)} WHERE ${cols} IN (${part.map(() => tuple).join(', ')})`,
        params,
      );
    }
  }

  protected async deleteAll(c: Conn, table: string, soft: boolean) {
    await this.q(
      c,
      soft ? `UPDATE ${this.target(table)} SET \`_sluice_deleted\` = TRUE` : `DELETE FROM ${this.target(table)}`,
    );
  }

  protected async widenColumn(c: Conn, table: string, col: ColumnInfo) {
    await this.q(
      c,
      `ALTER TABLE ${this.target(table)} MODIFY ${quoteMysqlIdent(col.name)} ${mysqlColumnType(col)}${col.key ? ' NOT NULL' : ''}`,
    );
  }

  protected async dropNotNull(c: Conn, table: string, column: string) {
    const [rows] = await this.q(
      c,
      'SELECT COLUMN_TYPE AS t, IS_NULLABLE AS n, COLUMN_KEY AS k FROM ' +
        'information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ' +
        'AND COLUMN_NAME = ?',
      [this.cfg.database, table, column],
    );
    const r = (rows as { t: string; n: string; k: string }[])[0];
    if (r && r.n === 'NO' && r.k !== 'PRI')
      await this.q(c, `ALTER TABLE ${this.target(table)} MODIFY ${quoteMysqlIdent(column)} ${r.t} NULL`);
  }

  protected async replaceColumn(c: Conn, table: string, col: ColumnInfo) {
    await this.q(
      c,
      `ALTER TABLE ${this.target(table)} DROP COLUMN ${quoteMysqlIdent(col.name)}, ADD ` +
        `COLUMN ${quoteMysqlIdent(col.name)} ${mysqlColumnType({ ...col, key: false })}`,
    );
  }

  protected isCatalogError(e: unknown) {
    return ['ER_NO_SUCH_TABLE', 'ER_BAD_FIELD_ERROR', 'ER_BAD_DB_ERROR'].includes((e as { code?: string })?.code ?? '');
  }
  protected isLostConnection(e: unknown) {
    return isMysqlConnectionError(e);
  }
  errorClass(e: unknown) {
    return mysqlErrorClass(e);
  }
  async close() {
    await this.pool.end().catch(() => undefined);
  }
}
