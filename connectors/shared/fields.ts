import type { FieldSpec } from '../../core/spec';

/** Shared field declarations reused by several kinds: declared once here, not copied. */
export const common = {
  host: {
    type: 'string',
    required: true,
    description: 'Hostname or IP address of the database server.',
    maxLength: 255,
  },
  user: { type: 'string', required: true, description: 'User to connect as.', maxLength: 128 },
  password: {
    type: 'string',
    sensitive: true,
    description: 'Password of `user`. Write-only: encrypted at rest and never returned.',
    maxLength: 1024,
  },
  tlsMode: {
    type: 'string',
    default: 'prefer',
    enum: ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'],
    description: 'TLS to the database: disable, prefer (TLS when offered), require, verify-ca or verify-full.',
  },
  tableInclude: {
    type: 'list',
    default: [],
    description:
      'Tables to capture as `schema.table` (regular expressions allowed). ' +
      'Empty means every table in the included schemas.',
  },
  tableExclude: {
    type: 'list',
    default: [],
    description: 'Tables never captured, as `schema.table` (regular expressions allowed).',
  },
  heartbeatIntervalMs: {
    type: 'integer',
    default: 10000,
    min: 0,
    max: 3_600_000,
    description:
      'How often (ms) a heartbeat is written so the source position advances ' +
      'while captured tables are idle. 0 disables heartbeats.',
  },
  snapshotMode: {
    type: 'string',
    default: 'initial',
    enum: ['initial', 'never', 'initial_only'],
    description:
      'initial: snapshot every captured table once, then stream. never: ' +
      'stream from now on. initial_only: snapshot every captured table once, ' +
      'then stream nothing more (a Postgres source drops its slot); ' +
      'switching to initial later starts afresh with a new snapshot.',
  },
  topicPrefix: {
    type: 'string',
    default: 'sluice',
    pattern: /^[a-zA-Z0-9._-]{1,100}$/,
    patternHint: 'letters, digits, ".", "_" and "-" (at most 100)',
    forcesReplacement: true,
    description: 'Kafka topics are named `<topic_prefix>.<schema>.<table>`.',
  },
  tables: {
    type: 'list',
    default: [],
    description: 'Tables (`schema.table`) this transform applies to. Empty means every table.',
  },
  batchSize: {
    type: 'integer',
    default: 500,
    min: 1,
    max: 10000,
    description: 'Maximum rows written per destination statement.',
  },
  flushIntervalMs: {
    type: 'integer',
    default: 500,
    min: 10,
    max: 60000,
    description: 'Longest time (ms) a partial batch waits before it is written.',
  },
  hardDelete: {
    type: 'boolean',
    default: true,
    description: 'true: a source delete deletes the row. false: the row is kept and `_sluice_deleted` is set to true.',
  },
  ingestionMode: {
    type: 'string',
    default: 'upsert',
    enum: ['upsert', 'append'],
    description:
      'upsert merges on the primary key (redelivery is invisible); append ' +
      'inserts every change with metadata columns. A pipeline may override ' +
      'it.',
  },
  tableNameFormat: {
    type: 'string',
    default: '{table}',
    pattern: /\{table\}/,
    patternHint: 'a template containing {table} (and optionally {schema}, {topic_prefix})',
    maxLength: 200,
    description: 'Destination table name; `{schema}`, `{table}` and `{topic_prefix}` are replaced.',
  },
} satisfies Record<string, FieldSpec>;

/** What every destination that writes rows into tables declares: table naming, ingestion mode, deletes, batching. */
export const tableDestinationFields = {
  table_name_format: common.tableNameFormat,
  ingestion_mode: common.ingestionMode,
  hard_delete: common.hardDelete,
  batch_size: common.batchSize,
  flush_interval_ms: common.flushIntervalMs,
} satisfies Record<string, FieldSpec>;

/** How a connector reaches its database server: host, port, the database (as each kind words it), user, password, TLS. */
export function serverConnectionFields(defaultPort: number, database?: FieldSpec): Record<string, FieldSpec> {
  return {
    host: common.host,
    port: { type: 'integer', default: defaultPort, min: 1, max: 65535, description: 'TCP port of the server.' },
    ...(database ? { database } : {}),
    user: common.user,
    password: common.password,
    tls_mode: common.tlsMode,
  };
}
