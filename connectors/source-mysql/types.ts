import type { ColumnInfo } from '../../core/change-event';

/**
 * MySQL / MariaDB column types and values in the envelope's vocabulary: each column gets the
 * Postgres type name the sinks create for it (its own type travels in `native_type`), and each value
 * the JSON form fromPgText gives the same type on a Postgres source.
 */

/** Column metadata as read from information_schema, with the envelope's Postgres-vocabulary type. */
export interface MyColumn extends ColumnInfo {
  data_type: string;
}

const INTS = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year']);
const BINARY = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit']);
const TEXTS = new Set(['tinytext', 'text', 'mediumtext', 'longtext']);

/** The Postgres type the sinks create for a MySQL column (the native type travels in `native_type`). */
export function pgTypeFor(
  dataType: string,
  columnType: string,
  numPrecision: number | null,
  numScale: number | null,
  dtPrecision: number | null,
  charLen: number | null,
  isJson: boolean,
): string {
  const unsigned = /unsigned/i.test(columnType);
  const dt = (p: number | null) => ((p ?? 0) === 6 ? '' : `(${p ?? 0})`);
  if (isJson || dataType === 'json') return 'jsonb';
  switch (dataType) {
    case 'tinyint':
      return 'smallint';
    case 'smallint':
      return unsigned ? 'integer' : 'smallint';
    case 'mediumint':
      return 'integer';
    case 'int':
    case 'integer':
      return unsigned ? 'bigint' : 'integer';
    case 'bigint':
      return unsigned ? 'numeric(20,0)' : 'bigint';
    case 'year':
      return 'smallint';
    case 'decimal':
    case 'numeric':
      return `numeric(${numPrecision ?? 10},${numScale ?? 0})`;
    case 'float':
      return 'real';
    case 'double':
    case 'real':
      return 'double precision';
    case 'date':
      return 'date';
    case 'datetime':
      return `timestamp${dt(dtPrecision)} without time zone`;
    case 'timestamp':
      return `timestamp${dt(dtPrecision)} with time zone`;
    case 'time':
      return `time${dt(dtPrecision)} without time zone`;
    case 'char':
    case 'varchar':
      return charLen != null ? `character varying(${charLen})` : 'text';
    case 'uuid':
      return 'uuid';
    default:
      if (BINARY.has(dataType)) return 'bytea';
      return 'text'; // text types, enum, set, inet*, geometry as text
  }
}

/** The shortest decimal that reads back as the same float32: what MySQL prints for a FLOAT. */
function float32Text(v: number): number {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const n = Number(f.toPrecision(p));
    if (Math.fround(n) === f) return n;
  }
  return v;
}

const isZeroDate = (s: string) => s.startsWith('0000-00-00');

/**
 * A value from the binlog (zongji) or a snapshot query (mysql2) -> the envelope's JSON value, by the
 * conventions of fromPgText: decimals exact as strings, integers beyond 2^53 as strings, datetime as
 * `YYYY-MM-DD HH:MM:SS[.ffffff]`, timestamp in UTC with `+00`, json as JSON text, binary as `\x` hex.
 * Zero dates, which Postgres cannot hold, become null.
 */
export function fromMysql(dataType: string, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (INTS.has(dataType)) {
    if (typeof v === 'string') {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : v;
    }
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    return v;
  }
  if (BINARY.has(dataType)) return '\\x' + (Buffer.isBuffer(v) ? v : Buffer.from(String(v))).toString('hex');
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  switch (dataType) {
    case 'decimal':
    case 'numeric':
      return String(v);
    case 'float':
      return typeof v === 'number' ? float32Text(v) : Number(v);
    case 'double':
    case 'real':
      return typeof v === 'number' ? v : Number(v);
    case 'date':
    case 'datetime': {
      const s = String(v);
      return isZeroDate(s) ? null : s;
    }
    case 'timestamp': {
      const s = String(v);
      return isZeroDate(s) ? null : s + '+00';
    }
    case 'json':
      return typeof v === 'string' ? v : JSON.stringify(v);
    default:
      return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

/** A primary-key value from the progress JSON -> a query parameter that compares like the column. */
export function keyParam(c: MyColumn, v: unknown): unknown {
  if (typeof v === 'string' && BINARY.has(c.data_type) && v.startsWith('\\x')) return Buffer.from(v.slice(2), 'hex');
  if (typeof v === 'string' && c.data_type === 'timestamp') return v.replace(/\+00$/, '');
  return v;
}

export function num(v: unknown): number | null {
  return v == null ? null : Number(v);
}

export function convertRow(
  cols: MyColumn[],
  raw: Record<string, unknown> | null | undefined,
): Record<string, unknown> | null {
  if (!raw) return null;
  const out: Record<string, unknown> = {};
  for (const c of cols) if (c.name in raw) out[c.name] = fromMysql(c.data_type, raw[c.name]);
  return out;
}
