import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'destination' } = {
  category: 'destination',
  kind: 'postgresql',
  title: 'PostgreSQL destination',
  description: 'Writes change events into PostgreSQL tables in batches; tables are created on first sight and new columns added.',
  fields: {
    host: common.host,
    port: { type: 'integer', default: 5432, min: 1, max: 65535, description: 'TCP port of the server.' },
    database: { type: 'string', required: true, maxLength: 63, description: 'Database to write into.' },
    user: common.user,
    password: common.password,
    tls_mode: common.tlsMode,
    schema: { type: 'string', default: 'public', maxLength: 63, description: 'Schema that holds the destination tables; created if missing.' },
    table_name_format: common.tableNameFormat,
    ingestion_mode: common.ingestionMode,
    hard_delete: common.hardDelete,
    batch_size: common.batchSize,
    flush_interval_ms: common.flushIntervalMs,
  },
};
