import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'transform' } = {
  category: 'transform',
  kind: 'map_filter',
  title: 'JavaScript map/filter',
  description:
    'Runs `function transform(event) { ... }` on each change event in a ' +
    'sandbox with CPU-time and memory limits. Return the (changed) event, ' +
    'or null to drop it. A throw sends the record to the DLQ.',
  fields: {
    code: {
      type: 'string',
      required: true,
      multiline: true,
      maxLength: 65536,
      description: 'JavaScript source defining `function transform(event)`.',
    },
    timeout_ms: { type: 'integer', default: 50, min: 1, max: 5000, description: 'CPU-time limit per event (ms).' },
    memory_limit_mb: {
      type: 'integer',
      default: 32,
      min: 8,
      max: 512,
      description: 'Memory limit of the sandbox (MiB).',
    },
    tables: common.tables,
  },
};
