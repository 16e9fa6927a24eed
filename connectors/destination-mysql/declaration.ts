import type { ConnectorSpec } from '../../core/spec';
import { serverConnectionFields, tableDestinationFields } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'destination' } = {
  category: 'destination',
  kind: 'mysql',
  title: 'MySQL / MariaDB destination',
  description:
    'Writes change events into MySQL or MariaDB tables in batches (INSERT ... ON DUPLICATE KEY UPDATE for upsert).',
  fields: {
    ...serverConnectionFields(3306, {
      type: 'string',
      required: true,
      maxLength: 64,
      description: 'Database to write into; created if missing.',
    }),
    ...tableDestinationFields,
  },
};
