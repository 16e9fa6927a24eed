import type { ConnectorSpec } from '../../core/spec';
import { common, serverConnectionFields } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'source' } = {
  category: 'source',
  kind: 'mysql',
  title: 'MySQL / MariaDB source',
  description:
    'Captures row changes from the binlog of MySQL 5.7+/8.x or MariaDB ' +
    '10.5+. Needs binlog_format=ROW and binlog_row_image=FULL; GTIDs ' +
    'recommended.',
  fields: {
    ...serverConnectionFields(3306),
    database_include: { type: 'list', required: true, description: 'Databases whose tables are captured.' },
    table_include: common.tableInclude,
    table_exclude: common.tableExclude,
    server_id: {
      type: 'integer',
      default: 5401,
      min: 1,
      max: 4294967295,
      description:
        "Replica server id Sluice uses on the binlog connection; must be unique among the server's replicas.",
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
  },
};
