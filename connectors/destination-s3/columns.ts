/**
 * How the envelope's column types (Postgres type names, whatever the source) become Parquet columns,
 * and the checks that keep a value that cannot be stored from reaching a file: such a record is
 * rejected at write() (the sink retries it, then sends it to the DLQ) instead of failing a file.
 *
 * Numeric: DECIMAL(p,s) when the column declares a precision of at most 38 (Parquet's and the query
 * engines' limit: exact, typed, summable as is); an unconstrained `numeric` or a wider one has no
 * fixed scale a DECIMAL could hold, so it stays the exact text the source sent.
 */
import type { ColumnInfo } from '../../core/change-event';

/** The DuckDB type a column is written as (DuckDB writes the Parquet file), and how its text is cast. */
export interface ParquetColumn {
  name: string;
  sqlType: string;
  check: 'decimal' | 'date' | 'timestamp' | null;
}

const FIXED: Record<string, string> = {
  boolean: 'BOOLEAN',
  smallint: 'SMALLINT',
  integer: 'INTEGER',
  bigint: 'BIGINT',
  real: 'FLOAT',
  'double precision': 'DOUBLE',
  date: 'DATE',
  bytea: 'BLOB',
  json: 'JSON',
  jsonb: 'JSON',
};

export function parquetType(type: string): Pick<ParquetColumn, 'sqlType' | 'check'> {
  const fixed = FIXED[type];
  if (fixed) return { sqlType: fixed, check: fixed === 'DATE' ? 'date' : null };
  const dec = /^numeric\((\d+),(\d+)\)$/.exec(type);
  if (dec && Number(dec[1]) <= 38) return { sqlType: `DECIMAL(${dec[1]},${dec[2]})`, check: 'decimal' };
  const ts = /^timestamp(?:\(\d\))? with(out)? time zone$/.exec(type);
  if (ts) return { sqlType: ts[1] ? 'TIMESTAMP' : 'TIMESTAMPTZ', check: 'timestamp' };
  // text, varchar(n), char(n) (padding kept), uuid, time, interval, arrays, enums, unconstrained numeric ...: the source's text.
  return { sqlType: 'VARCHAR', check: null };
}

/** The SELECT expression that turns the JSON text column `q` (a quoted identifier) into its Parquet type. */
export function castExpression(q: string, sqlType: string): string {
  if (sqlType === 'VARCHAR') return q;
  // The envelope carries bytea as Postgres' hex form `\x0aff`.
  if (sqlType === 'BLOB') return `unhex(substr(${q}, 3))`;
  return `CAST(${q} AS ${sqlType})`;
}

export class UnrepresentableValueError extends Error {
  constructor(
    readonly column: string,
    readonly value: unknown,
    readonly sqlType: string,
  ) {
    super(
      `column ${column}: the value ${JSON.stringify(value).slice(0, 80)} cannot be stored as Parquet ${sqlType}; ` +
        'fix: a transform that rewrites it, or format = "jsonl" (values as text)',
    );
    this.name = 'UnrepresentableValueError';
  }
}

const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;
// DuckDB reads Postgres' "YYYY-MM-DD ... BC" as AD without a word: it wants "YYYY-MM-DD (BC) ...".
const BC = /^(\d{4,}-\d\d-\d\d)(.*) BC$/;
/** Beyond year 294276 a Parquet/DuckDB microsecond timestamp overflows. */
const TIMESTAMP_MAX_YEAR = 294275;

/**
 * The value as it goes into the JSON line (`undefined`: unchanged), or a throw when the column's
 * Parquet type cannot hold it (NaN in a numeric(p,s), a timestamp beyond year 294275).
 */
export function prepareValue(col: ParquetColumn, v: unknown): unknown {
  if (v === null || v === undefined || col.check === null) return undefined;
  if (col.check === 'decimal') {
    if (typeof v === 'number' ? !Number.isFinite(v) : !DECIMAL_TEXT.test(String(v)))
      throw new UnrepresentableValueError(col.name, v, col.sqlType);
    return undefined;
  }
  if (typeof v !== 'string' || v === 'infinity' || v === '-infinity') return undefined;
  if (col.check === 'timestamp' && Number(v.slice(0, v.indexOf('-'))) > TIMESTAMP_MAX_YEAR)
    throw new UnrepresentableValueError(col.name, v, col.sqlType);
  const bc = v.endsWith(' BC') ? BC.exec(v) : null;
  return bc ? `${bc[1]} (BC)${bc[2]}` : undefined;
}

const parquetColumnsCache = new WeakMap<ColumnInfo[], ParquetColumn[]>();
/** The Parquet columns of an envelope's column list (computed once per list: the sink shares lists between records). */
export function parquetColumns(columns: ColumnInfo[]): ParquetColumn[] {
  let p = parquetColumnsCache.get(columns);
  if (!p) {
    p = columns.map((c) => ({ name: c.name, ...parquetType(c.type) }));
    parquetColumnsCache.set(columns, p);
  }
  return p;
}
