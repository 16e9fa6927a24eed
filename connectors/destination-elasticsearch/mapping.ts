// How change events become Elasticsearch documents: the field mapping of each source column type
// (docs/connectors.md, "Elasticsearch mappings", renders MAPPING_TABLE), the values converted for
// those fields, document ids and index names. Only field types of the Elasticsearch server itself
// are used (no plugin or module types such as scaled_float), so any Elasticsearch 8 takes them.
import type { ColumnInfo } from '../../core/change-event';

export type FieldMapping = Record<string, unknown>;

const KEYWORD: FieldMapping = { type: 'keyword', ignore_above: 8191 };
const TEXT: FieldMapping = { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };

/** Source type (Postgres format_type vocabulary, whatever the source) -> field, with the reason. The first matching rule wins. */
export const MAPPING_TABLE: { types: string; test: (t: string) => boolean; field: FieldMapping; why: string }[] = [
  {
    types: 'arrays (`integer[]`, `text[]`, ...)',
    test: (t) => t.endsWith('[]'),
    field: KEYWORD,
    why: 'the Postgres array literal as sent (`{1,2,3}`)',
  },
  { types: 'smallint', test: (t) => t === 'smallint', field: { type: 'short' }, why: '' },
  { types: 'integer', test: (t) => t === 'integer', field: { type: 'integer' }, why: '' },
  { types: 'bigint', test: (t) => t === 'bigint', field: { type: 'long' }, why: '' },
  { types: 'real', test: (t) => t === 'real', field: { type: 'float' }, why: '' },
  { types: 'double precision', test: (t) => t === 'double precision', field: { type: 'double' }, why: '' },
  {
    types: 'numeric, numeric(p,s)',
    test: (t) => t.startsWith('numeric'),
    field: { type: 'double' },
    why: 'searched and aggregated as a double; `_source` keeps the exact decimal string the source sent',
  },
  { types: 'boolean', test: (t) => t === 'boolean', field: { type: 'boolean' }, why: '' },
  {
    types: 'text, character varying(n), character(n), citext',
    test: (t) => /^(text|character|citext|name)/.test(t),
    field: TEXT,
    why: 'full-text search, plus a `.keyword` sub-field (values up to 256 characters) for sorting and aggregations',
  },
  { types: 'uuid', test: (t) => t === 'uuid', field: { type: 'keyword' }, why: '' },
  { types: 'date', test: (t) => t === 'date', field: { type: 'date' }, why: '' },
  {
    types: 'timestamp [with time zone]',
    test: (t) => t.startsWith('timestamp'),
    field: { type: 'date' },
    why:
      'values are sent as ISO 8601 (`2024-05-01T12:00:00.123456+00:00`); the ' +
      'index keeps milliseconds, `_source` the microseconds',
  },
  {
    types: 'json, jsonb',
    test: (t) => t === 'json' || t === 'jsonb',
    field: { type: 'object', enabled: false },
    why:
      'the parsed JSON, kept in `_source` but not indexed (any JSON value ' +
      'fits); create the index yourself with `flattened` or an object ' +
      'mapping to search it',
  },
  { types: 'bytea', test: (t) => t === 'bytea', field: { type: 'binary' }, why: 'base64, as the binary type wants it' },
  {
    types: 'anything else (time, interval, inet, money, enums, ...)',
    test: () => true,
    field: KEYWORD,
    why: "the source's text form; values over 8191 characters stay in `_source` but are not indexed",
  },
];

const byType = new Map<string, FieldMapping>();
export function fieldFor(type: string): FieldMapping {
  let f = byType.get(type);
  if (!f) {
    f = MAPPING_TABLE.find((m) => m.test(type))!.field;
    byType.set(type, f);
  }
  return f;
}

/** The fields Sluice adds: append-mode metadata and the soft-delete flag (design.md, delivery semantics). */
export const METADATA_FIELDS: Record<'append' | 'soft', Record<string, FieldMapping>> = {
  append: {
    _sluice_op: { type: 'keyword' },
    _sluice_source_ts: { type: 'date' },
    _sluice_offset: { type: 'long' },
    _sluice_ingested_at: { type: 'date' },
  },
  soft: { _sluice_deleted: { type: 'boolean' } },
};

/** The index of a destination table name (table_name_format applied): Elasticsearch index names are lower case. */
export const indexName = (table: string) => table.toLowerCase();

const TS = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::(\d\d))?)?$/;

/** A value in the form its field takes (see MAPPING_TABLE); null stays null. */
export function esValue(type: string, v: unknown): unknown {
  if (v === null || typeof v !== 'string') return v;
  if (type.endsWith('[]')) return v;
  if (type === 'json' || type === 'jsonb') {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  if (type === 'bytea' && v.startsWith('\\x')) return Buffer.from(v.slice(2), 'hex').toString('base64');
  if (type.startsWith('timestamp')) {
    // Postgres text form (`2024-05-01 12:00:00.5+02`) -> ISO 8601; anything else (BC, infinity) as it is.
    const m = TS.exec(v);
    if (m) return `${m[1]}T${m[2]}${m[3] ? `${m[3]}:${m[4] ?? '00'}` : ''}`;
  }
  return v;
}

/** The document of a row image: converted values; an absent column (an unchanged TOASTed value) stays absent. */
export function toDoc(row: Record<string, unknown>, types: Map<string, string>): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const k in row) {
    const v = row[k];
    if (v !== undefined) doc[k] = esValue(types.get(k) ?? 'text', v);
  }
  return doc;
}

/** Document id of a row: the key value (one key column) or the JSON array of the key values. */
export function docId(keys: ColumnInfo[], row: Record<string, unknown>): string {
  if (keys.length === 1) return String(row[keys[0].name]);
  return JSON.stringify(keys.map((k) => row[k.name] ?? null));
}
