import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'transform' } = {
  category: 'transform',
  kind: 'filter_rows',
  title: 'Filter rows',
  description: 'Keeps or drops rows by comparing one column with a value. Deletes are matched on the before image.',
  fields: {
    column: { type: 'string', required: true, maxLength: 128, description: 'Column compared.' },
    operator: {
      type: 'string',
      required: true,
      enum: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in', 'is_null', 'not_null'],
      description:
        'Comparison: eq, ne, gt, gte, lt, lte (numbers compare numerically), ' +
        'in, not_in (against `values`), is_null, not_null.',
    },
    value: { type: 'string', maxLength: 1024, description: 'Value compared by eq, ne, gt, gte, lt and lte.' },
    values: { type: 'list', default: [], description: 'Values for in and not_in.' },
    action: {
      type: 'string',
      default: 'keep',
      enum: ['keep', 'drop'],
      description: 'keep: only matching rows pass. drop: matching rows are removed.',
    },
    tables: common.tables,
  },
};
