import type { FieldSpec } from './spec';

/**
 * Fields every object has besides its kind-specific ones. Kept free of database imports so the
 * Terraform provider can derive its schema from it without loading TypeORM.
 */
export const envelopeFields: Record<string, FieldSpec> = {
  name: {
    type: 'string',
    required: true,
    maxLength: 200,
    pattern: /^[^\u0000-\u001f\u007f]+$/u,
    patternHint: 'free of control characters',
    description: 'Unique name within its collection; any Unicode text up to 200 characters.',
  },
  tags: {
    type: 'map',
    default: {},
    keyMaxLength: 64,
    maxLength: 256,
    description: 'Free-form string labels: keys of 1-64 characters, values of at most 256.',
  },
};
