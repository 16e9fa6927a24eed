/**
 * The one declaration of a connector kind. Validation (class-validator), the OpenAPI document,
 * export/import, the Terraform schema and the docs are all derived from a ConnectorSpec, so a
 * field is added or changed in exactly one place.
 */
export type Category = 'source' | 'destination' | 'transform';

export type FieldType = 'string' | 'integer' | 'boolean' | 'list' | 'map' | 'object';

export interface FieldSpec {
  type: FieldType;
  description: string;
  required?: boolean;
  /** Applied on create and whenever the field is unset; shown in docs, OpenAPI and Terraform. */
  default?: string | number | boolean | string[] | Record<string, string>;
  /** Write-only: encrypted at rest, never returned, exported as a variable. */
  sensitive?: boolean;
  /** Changing it means a new object (e.g. a replication slot name): Terraform plans a replacement. */
  forcesReplacement?: boolean;
  enum?: readonly string[];
  min?: number;
  max?: number;
  /** For strings (and each list item): a regular expression the value must match. */
  pattern?: RegExp;
  patternHint?: string;
  maxLength?: number;
  /** Hint for renderers: a multi-line program text. */
  multiline?: boolean;
  /** For type object: its attributes. */
  fields?: Record<string, FieldSpec>;
  /** The value (or each list item) is the id of an object of this category. */
  references?: Category;
}

export interface ConnectorSpec {
  category: Category;
  kind: string;
  title: string;
  description: string;
  fields: Record<string, FieldSpec>;
}

/** Terraform resource type of a connector kind, e.g. sluice_source_postgresql. */
export function resourceType(spec: Pick<ConnectorSpec, 'category' | 'kind'>): string {
  return `sluice_${spec.category}_${spec.kind}`;
}

export function secretFields(spec: ConnectorSpec): string[] {
  return Object.entries(spec.fields).filter(([, f]) => f.sensitive).map(([name]) => name);
}

/** Shared field declarations reused by several kinds: declared once here, not copied. */
export const common = {
  host: { type: 'string', required: true, description: 'Hostname or IP address of the database server.', maxLength: 255 },
  user: { type: 'string', required: true, description: 'User to connect as.', maxLength: 128 },
  password: { type: 'string', sensitive: true, description: 'Password of `user`. Write-only: encrypted at rest and never returned.', maxLength: 1024 },
  tlsMode: {
    type: 'string', default: 'prefer', enum: ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'],
    description: 'TLS to the database: disable, prefer (TLS when offered), require, verify-ca or verify-full.',
  },
  tableInclude: {
    type: 'list', default: [], description: 'Tables to capture as `schema.table` (regular expressions allowed). Empty means every table in the included schemas.',
  },
  tableExclude: { type: 'list', default: [], description: 'Tables never captured, as `schema.table` (regular expressions allowed).' },
  heartbeatIntervalMs: {
    type: 'integer', default: 10000, min: 0, max: 3_600_000,
    description: 'How often (ms) a heartbeat is written so the source position advances while captured tables are idle. 0 disables heartbeats.',
  },
  snapshotMode: {
    type: 'string', default: 'initial', enum: ['initial', 'never', 'initial_only'],
    description: 'initial: snapshot every captured table once, then stream. never: stream from now on. initial_only: snapshot every captured table once, then stream nothing more (a Postgres source drops its slot); switching to initial later starts afresh with a new snapshot.',
  },
  topicPrefix: {
    type: 'string', default: 'sluice', pattern: /^[a-zA-Z0-9._-]{1,100}$/, patternHint: 'letters, digits, ".", "_" and "-" (at most 100)',
    forcesReplacement: true, description: 'Kafka topics are named `<topic_prefix>.<schema>.<table>`.',
  },
  tables: { type: 'list', default: [], description: 'Tables (`schema.table`) this transform applies to. Empty means every table.' },
  batchSize: { type: 'integer', default: 500, min: 1, max: 10000, description: 'Maximum rows written per destination statement.' },
  flushIntervalMs: { type: 'integer', default: 500, min: 10, max: 60000, description: 'Longest time (ms) a partial batch waits before it is written.' },
  hardDelete: { type: 'boolean', default: true, description: 'true: a source delete deletes the row. false: the row is kept and `_sluice_deleted` is set to true.' },
  ingestionMode: {
    type: 'string', default: 'upsert', enum: ['upsert', 'append'],
    description: 'upsert merges on the primary key (redelivery is invisible); append inserts every change with metadata columns. A pipeline may override it.',
  },
  tableNameFormat: {
    type: 'string', default: '{table}', pattern: /\{table\}/, patternHint: 'a template containing {table} (and optionally {schema}, {topic_prefix})', maxLength: 200,
    description: 'Destination table name; `{schema}`, `{table}` and `{topic_prefix}` are replaced.',
  },
} satisfies Record<string, FieldSpec>;
