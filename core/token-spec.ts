import type { FieldSpec } from './spec';
import { envelopeFields } from './object-fields';
import { roles } from './roles';

/**
 * The API token's declaration, in the same form as a connector kind's: POST /v1/tokens validation,
 * the OpenAPI document, the Terraform resource sluice_api_token and the docs derive from it.
 * Tokens cannot change: any change to a field means a new token (and a new secret).
 */
export const tokenSpec: { title: string; description: string; fields: Record<string, FieldSpec> } = {
  title: 'API token',
  description:
    'A bearer token for the Sluice API with a role: viewer (reads), ' +
    'operator (reads plus pause, resume, restart, snapshots, DLQ replay ' +
    'and discard, verify) or admin (everything, including configuration ' +
    'and tokens). The secret is returned once, when the token is created; ' +
    'Sluice stores only its SHA-256 hash.',
  fields: {
    name: {
      ...envelopeFields.name,
      forcesReplacement: true,
      description:
        'Unique name of the token; the audit log records it as the actor of every change made with the token.',
    },
    role: {
      type: 'string',
      required: true,
      enum: roles,
      forcesReplacement: true,
      description: 'viewer, operator or admin.',
    },
    expires_in: {
      type: 'integer',
      min: 60,
      max: 315_360_000,
      forcesReplacement: true,
      description: 'Seconds from creation until the token stops working (60 s to 10 years). Unset: it never expires.',
    },
  },
};
