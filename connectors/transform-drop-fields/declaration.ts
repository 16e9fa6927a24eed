import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'transform' } = {
  category: 'transform',
  kind: 'drop_fields',
  title: 'Drop fields',
  description: 'Removes columns from each row before it reaches the destination.',
  fields: {
    fields: { type: 'list', required: true, description: 'Column names to remove.' },
    tables: common.tables,
  },
};
