import type { ConnectorSpec } from '../../core/spec';
import { serverConnectionFields, tableDestinationFields } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'destination' } = {
  category: 'destination',
  kind: 'postgresql',
  title: 'PostgreSQL destination',
  description:
    'Writes change events into PostgreSQL tables in batches; tables are created on first sight and new columns added.',
  fields: {
    ...serverConnectionFields(5432, {
      type: 'string',
      required: true,
      maxLength: 63,
      description: 'Database to write into.',
    }),
    schema: {
      type: 'string',
      default: 'public',
      maxLength: 63,
      description: 'Schema that holds the destination tables; created if missing.',
    },
    ...tableDestinationFields,
  },
};
