import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'destination' } = {
  category: 'destination',
  kind: 'mysql',
  title: 'MySQL / MariaDB destination',
  description: 'Writes change events into MySQL or MariaDB tables in batches (INSERT ... ON DUPLICATE KEY UPDATE for upsert).',
  fields: {
    host: common.host,
    port: { type: 'integer', default: 3306, min: 1, max: 65535, description: 'TCP port of the server.' },
    database: { type: 'string', required: true, maxLength: 64, description: 'Database to write into; created if missing.' },
    user: common.user,
    password: common.password,
    tls_mode: common.tlsMode,
    table_name_format: common.tableNameFormat,
    ingestion_mode: common.ingestionMode,
    hard_delete: common.hardDelete,
    batch_size: common.batchSize,
    flush_interval_ms: common.flushIntervalMs,
  },
};
