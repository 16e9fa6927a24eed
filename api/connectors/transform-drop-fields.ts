import { common, ConnectorSpec } from './spec';

export const transformDropFields: ConnectorSpec = {
  category: 'transform',
  kind: 'drop_fields',
  title: 'Drop fields',
  description: 'Removes columns from each row before it reaches the destination.',
  fields: {
    fields: { type: 'list', required: true, description: 'Column names to remove.' },
    tables: common.tables,
  },
};
