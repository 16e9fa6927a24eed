import type { FieldSpec } from '../core/spec';

/**
 * JSON Schema (OpenAPI 3.1) of field declarations, exactly as validate.ts checks them, in three
 * shapes: `request` (create/replace: required fields must be there; any other field may be null,
 * which means its default), `patch` (nothing required; null resets a field, so required fields
 * cannot be null) and `response` (every field present, secrets absent).
 */
export type Schema = Record<string, unknown>;
export type Shape = 'request' | 'patch' | 'response';

/** No NUL: Postgres cannot store it. Unpaired surrogates are refused too, which a pattern cannot say. */
export const TEXT_PATTERN = '^[^\\u0000]*$';
export const TEXT_NOTE = 'Text never contains NUL (U+0000) or unpaired surrogates.';

function text(f: Pick<FieldSpec, 'pattern' | 'maxLength'>, shape: Shape, minLength?: number): Schema {
  const s: Schema = { type: 'string' };
  if (minLength) s.minLength = minLength;
  if (f.maxLength !== undefined) s.maxLength = f.maxLength;
  if (f.pattern) s.pattern = f.pattern.source;
  // Requests spell out the NUL rule; a declared pattern need not exclude NUL itself, and JSON
  // Schema takes one pattern per schema object.
  if (shape !== 'response') {
    if (f.pattern) s.allOf = [{ pattern: TEXT_PATTERN }];
    else s.pattern = TEXT_PATTERN;
  }
  return s;
}

const uuid = { type: 'string', format: 'uuid' };

function nullable(s: Schema): Schema {
  if (typeof s.type === 'string') s.type = [s.type, 'null'];
  if (Array.isArray(s.enum)) s.enum = [...s.enum, null];
  return s;
}

/** JSON Schema of one declared field. */
export function fieldSchema(f: FieldSpec, shape: Shape = 'request'): Schema {
  let s: Schema;
  const out = shape === 'response';
  switch (f.type) {
    case 'string':
      s = f.enum
        ? { type: 'string', enum: [...f.enum] }
        : f.references
          ? { ...uuid }
          : text(f, shape, f.required ? 1 : undefined);
      break;
    case 'integer':
      s = { type: 'integer' };
      if (f.min !== undefined) s.minimum = f.min;
      if (f.max !== undefined) s.maximum = f.max;
      break;
    case 'boolean':
      s = { type: 'boolean' };
      break;
    case 'list':
      s = { type: 'array', items: f.references ? { ...uuid } : text(f, shape) };
      if (f.minItems !== undefined) s.minItems = f.minItems;
      if (f.uniqueItems) s.uniqueItems = true;
      break;
    case 'map':
      s = {
        type: 'object',
        additionalProperties: text(f, shape),
        propertyNames: { ...text({ maxLength: f.keyMaxLength }, shape, 1) },
      };
      break;
    case 'object':
      s = fieldsSchema(f.fields ?? {}, shape);
      break;
  }
  s.description = f.description;
  if (f.default !== undefined && f.type !== 'object' && !out) s.default = f.default;
  if (f.sensitive) s.writeOnly = true;
  if (f.forcesReplacement) s['x-forces-replacement'] = true;
  // In requests null stands for the default (or "unset"); responses show null only for unset fields without one.
  if (out ? !f.required && f.default === undefined && f.type !== 'object' : !f.required) nullable(s);
  return s;
}

/** An object of declared fields; unknown fields are refused. Secrets are left out of responses. */
export function fieldsSchema(fields: Record<string, FieldSpec>, shape: Shape = 'request'): Schema {
  const entries = Object.entries(fields).filter(([, f]) => !(shape === 'response' && f.sensitive));
  const required =
    shape === 'patch' ? [] : entries.filter(([, f]) => shape === 'response' || f.required).map(([k]) => k);
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(entries.map(([k, f]) => [k, fieldSchema(f, shape)])),
    ...(required.length ? { required } : {}),
  };
}
