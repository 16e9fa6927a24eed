import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'transform' } = {
  category: 'transform',
  kind: 'mask_fields',
  title: 'Mask fields',
  description:
    'Masks column values: a salted SHA-256 hash (joinable), a fixed redaction, or all but the last characters.',
  fields: {
    fields: { type: 'list', required: true, description: 'Column names to mask.' },
    strategy: {
      type: 'string',
      default: 'hash',
      enum: ['hash', 'redact', 'partial'],
      description:
        'hash (salted SHA-256, hex), redact (replaced by "***") or partial (keeps the last `keep_last` characters).',
    },
    keep_last: {
      type: 'integer',
      default: 4,
      min: 0,
      max: 64,
      description: 'Characters kept by the partial strategy.',
    },
    salt: { type: 'string', sensitive: true, maxLength: 256, description: 'Salt of the hash strategy. Write-only.' },
    tables: common.tables,
  },
};
