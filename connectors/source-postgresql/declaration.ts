import type { ConnectorSpec } from '../../core/spec';
import { common, serverConnectionFields } from '../shared/fields';

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

export const declaration: ConnectorSpec & { category: 'source' } = {
  category: 'source',
  kind: 'postgresql',
  title: 'PostgreSQL source',
  description:
    'Captures row changes from PostgreSQL 10+ by logical replication ' +
    '(pgoutput). Needs wal_level=logical and a user with REPLICATION.',
  fields: {
    ...serverConnectionFields(5432, {
      type: 'string',
      required: true,
      forcesReplacement: true,
      maxLength: 63,
      description: 'Database to capture. A slot belongs to one database, so changing it means a new source.',
    }),
    schema_include: { type: 'list', default: ['public'], description: 'Schemas whose tables are captured.' },
    table_include: common.tableInclude,
    table_exclude: common.tableExclude,
    slot_name: {
      type: 'string',
      default: 'sluice',
      pattern: identifier,
      patternHint: 'lower-case letters, digits and "_", starting with a letter or "_" (at most 63)',
      forcesReplacement: true,
      description: 'Logical replication slot. The slot holds the source position; a new name starts a new stream.',
    },
    publication_name: {
      type: 'string',
      default: 'sluice_pub',
      pattern: identifier,
      patternHint: 'lower-case letters, digits and "_" (at most 63)',
      forcesReplacement: true,
      description: 'Publication listing the captured tables; created if missing.',
    },
    heartbeat_interval_ms: common.heartbeatIntervalMs,
    snapshot_mode: common.snapshotMode,
    snapshot_chunk_size: {
      type: 'integer',
      default: 1024,
      min: 1,
      max: 100000,
      description: 'Rows per primary-key chunk in incremental snapshots.',
    },
    topic_prefix: common.topicPrefix,
    on_slot_loss: {
      type: 'string',
      default: 'fail',
      enum: ['fail', 'resnapshot'],
      description:
        'What to do when the slot is missing or invalidated: fail (pipeline ' +
        'Broken with reason slot_lost) or resnapshot (recreate the slot and ' +
        'snapshot every captured table).',
    },
  },
};
