import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'transform' } = {
  category: 'transform',
  kind: 'rename_fields',
  title: 'Rename fields',
  description: 'Renames columns of each row (before and after images).',
  fields: {
    mappings: { type: 'map', required: true, description: 'Map of old column name to new column name.' },
    tables: common.tables,
  },
};
