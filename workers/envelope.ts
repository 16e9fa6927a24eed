/** The change-event envelope carried in Kafka, and the conversions between Postgres text and JSON. */

export type Op = 'c' | 'u' | 'd' | 'r' | 't';

/** `type` is a Postgres type name (format_type style) whatever the source; `native_type` is the source's own (MySQL COLUMN_TYPE). */
export interface ColumnInfo { name: string; type: string; oid: number; key: boolean; native_type?: string }

export interface Envelope {
  op: Op;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /**
   * Where the change came from. `lsn` is the Postgres commit LSN, or for MySQL the transaction's GTID
   * (file:pos without GTIDs), also given apart as gtid / file / pos. `schema` is the MySQL database.
   */
  source: {
    lsn: string | null; tx_id: number | null; ts_ms: number; schema: string; table: string; snapshot: boolean | string; snapshot_id?: string;
    gtid?: string | null; file?: string | null; pos?: number | null;
  };
  /** Column names, SQL types and primary key: lets the sink create and widen tables faithfully. */
  columns: ColumnInfo[];
  ts_ms: number;
}

const INT = new Set([21, 23, 26]);
const FLOAT = new Set([700, 701]);

/**
 * Postgres text output -> JSON value. Exactness first: numeric, int8 beyond 2^53, timestamps, dates,
 * uuid, bytea (\x hex), arrays (Postgres array literal) and json/jsonb (as JSON text, like Debezium's io.debezium.data.Json,
 * because JSON.parse would lose numeric scale such as 1.0 and json's formatting) stay strings.
 * `undefined` marks an unchanged TOASTed value (absent from the update).
 */
export function fromPgText(oid: number, text: string | null | undefined): unknown {
  if (text === null) return null;
  if (text === undefined) return undefined;
  if (oid === 16) return text === 't' || text === 'true';
  if (INT.has(oid)) return Number(text);
  if (oid === 20) { const n = Number(text); return Number.isSafeInteger(n) ? n : text; }
  if (FLOAT.has(oid)) { const n = Number(text); return Number.isFinite(n) && String(n) === text ? n : text; }
  return text;
}

/** JSON value -> a parameter that Postgres casts back to the column type exactly. */
export function toPgParam(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'json' || type === 'jsonb') return typeof value === 'string' ? value : JSON.stringify(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

export const quoteIdent = (s: string) => '"' + s.replace(/"/g, '""') + '"';
export const qualified = (schema: string, table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;

export function topicFor(prefix: string, schema: string, table: string): string {
  return `${prefix}.${schema}.${table}`.replace(/[^a-zA-Z0-9._-]/g, '_');
}

/** A stable string of the primary-key values (text form) used to match stream and snapshot rows. */
export function keyString(columns: ColumnInfo[], row: Record<string, unknown>): string {
  return JSON.stringify(columns.filter((c) => c.key).map((c) => row[c.name] ?? null));
}

export function kafkaKey(columns: ColumnInfo[], row: Record<string, unknown> | null): string | null {
  if (!row) return null;
  const keys = columns.filter((c) => c.key);
  if (!keys.length) return null;
  const o: Record<string, unknown> = {};
  for (const c of keys) o[c.name] = row[c.name] ?? null;
  return JSON.stringify(o);
}

export function lsnToBigInt(lsn: string | null | undefined): bigint {
  if (!lsn) return 0n;
  const [hi, lo] = lsn.split('/');
  return (BigInt('0x' + hi) << 32n) + BigInt('0x' + lo);
}
export function bigIntToLsn(n: bigint): string {
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
}
