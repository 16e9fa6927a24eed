/**
 * The change event as it travels through Kafka (the envelope), and its Kafka key. Shared by every
 * source kind (which produce it), every destination kind (which apply it) and the control plane
 * (DLQ records). Column types use one vocabulary whatever the source: Postgres `format_type()` names
 * (a MySQL source maps its types to them and keeps its own in `native_type`).
 */

export type Op = 'c' | 'u' | 'd' | 'r' | 't';

/** `type` is a Postgres type name (format_type style) whatever the source; `native_type` is the source's own (MySQL COLUMN_TYPE). */
export interface ColumnInfo {
  name: string;
  type: string;
  oid: number;
  key: boolean;
  native_type?: string;
}

export interface Envelope {
  op: Op;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /**
   * Where the change came from. `lsn` is the Postgres commit LSN, or for MySQL the transaction's GTID
   * (file:pos without GTIDs), also given apart as gtid / file / pos. `schema` is the MySQL database.
   */
  source: {
    lsn: string | null;
    tx_id: number | null;
    ts_ms: number;
    schema: string;
    table: string;
    snapshot: boolean | string;
    snapshot_id?: string;
    gtid?: string | null;
    file?: string | null;
    pos?: number | null;
  };
  /** Column names, SQL types and primary key: lets the sink create and widen tables faithfully. */
  columns: ColumnInfo[];
  ts_ms: number;
}

/** Key columns of a column list, with their names pre-rendered as JSON (`"id":`), computed once per list. */
const keyColsCache = new WeakMap<ColumnInfo[], { names: string[]; fragments: string[] }>();
function keyColsOf(columns: ColumnInfo[]) {
  let k = keyColsCache.get(columns);
  if (!k) {
    const names = columns.filter((c) => c.key).map((c) => c.name);
    k = { names, fragments: names.map((n, i) => (i ? ',' : '{') + JSON.stringify(n) + ':') };
    keyColsCache.set(columns, k);
  }
  return k;
}

/** A stable string of the primary-key values (text form) used to match stream and snapshot rows: `JSON.stringify([v1, v2])`. */
export function keyString(columns: ColumnInfo[], row: Record<string, unknown>): string {
  const { names } = keyColsOf(columns);
  let s = '[';
  for (let i = 0; i < names.length; i++) s += (i ? ',' : '') + JSON.stringify(row[names[i]] ?? null);
  return s + ']';
}

/** The Kafka key: `JSON.stringify({k1: v1, k2: v2})` of the primary-key columns (built from pre-rendered names). */
export function kafkaKey(columns: ColumnInfo[], row: Record<string, unknown> | null): string | null {
  if (!row) return null;
  const { names, fragments } = keyColsOf(columns);
  if (!names.length) return null;
  let s = '';
  for (let i = 0; i < names.length; i++) s += fragments[i] + JSON.stringify(row[names[i]] ?? null);
  return s + '}';
}

/**
 * The Kafka value: the envelope without `columns` (they travel in the `sluice.columns` header), as
 * JSON — the same bytes as `JSON.stringify({op, before, after, source, ts_ms})`. Built by
 * concatenation, and the `source` block is rendered once while the same object is passed again
 * (callers share one source object per transaction and table, or per snapshot chunk): about half
 * the cost of stringifying the nested object for every event. A source object must not be changed
 * once an envelope carrying it was encoded.
 */
export function encodeEnvelope(env: Envelope): string {
  if (env.before === undefined || env.after === undefined || env.source === undefined || env.ts_ms === undefined) {
    const { columns: _c, ...value } = env; // JSON.stringify leaves undefined members out: keep exactly that
    return JSON.stringify(value);
  }
  if (env.source !== lastSource) {
    lastSource = env.source;
    lastSourceJson = JSON.stringify(env.source);
  }
  return (
    '{"op":' +
    JSON.stringify(env.op) +
    ',"before":' +
    JSON.stringify(env.before) +
    ',"after":' +
    JSON.stringify(env.after) +
    ',"source":' +
    lastSourceJson +
    ',"ts_ms":' +
    JSON.stringify(env.ts_ms) +
    '}'
  );
}
let lastSource: object | null = null;
let lastSourceJson = '';
