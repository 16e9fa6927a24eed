import type { FieldSpec } from '../core/spec';

/** The building blocks of /openapi.json: JSON Schemas of declared fields and the shared parameters and responses. */

export type Schema = Record<string, unknown>;

/** JSON Schema of one declared field. */
export function fieldSchema(f: FieldSpec): Schema {
  const s: Schema = { description: f.description };
  switch (f.type) {
    case 'string': s.type = 'string'; break;
    case 'integer': s.type = 'integer'; break;
    case 'boolean': s.type = 'boolean'; break;
    case 'list': s.type = 'array'; s.items = { type: 'string', ...(f.references ? { format: 'uuid' } : {}) }; break;
    case 'map': s.type = 'object'; s.additionalProperties = { type: 'string' }; break;
    case 'object': Object.assign(s, fieldsSchema(f.fields ?? {})); break;
  }
  if (f.references && f.type === 'string') s.format = 'uuid';
  if (f.enum) s.enum = [...f.enum];
  if (f.min !== undefined) s.minimum = f.min;
  if (f.max !== undefined) s.maximum = f.max;
  if (f.maxLength !== undefined) s.maxLength = f.maxLength;
  if (f.pattern) s.pattern = f.pattern.source;
  if (f.default !== undefined && f.type !== 'object') s.default = f.default;
  if (f.sensitive) s.writeOnly = true;
  if (f.forcesReplacement) s['x-forces-replacement'] = true;
  return s;
}

export function fieldsSchema(fields: Record<string, FieldSpec>): Schema {
  const required = Object.entries(fields).filter(([, f]) => f.required).map(([k]) => k);
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, fieldSchema(f)])),
    ...(required.length ? { required } : {}),
  };
}

export const pascal = (s: string) => s.split(/[_-]/).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
export const json = (schema: Schema, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
export const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
export const ifMatch = { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'The version you last read ("3"); 412 if it changed since.' };
export const pageParams = [
  { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
  { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
];
export const errors = { 400: problem('Invalid input; errors[] names each field'), 401: problem('Missing or invalid token'), 404: problem('Not found'), 409: problem('Name taken, or object in use'), 412: problem('Stale If-Match'), 413: problem('Body too large') };

