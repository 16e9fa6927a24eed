import type { KindDecl } from './objects';
import { fieldSchema, fieldsSchema, Schema, Shape, TEXT_PATTERN } from './json-schema';
import { defaultRole, Role, ROLE_EXTENSION } from '../core/roles';
import { envelopeFields } from '../core/object-fields';
import { IF_MATCH } from './routes/common';

/** The building blocks of /openapi.json (openapi.ts): schema helpers, one operation, a family of kinded objects. */

export type { Schema };

export const pascal = (s: string) =>
  s
    .split(/[_-]/)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const nullable = (type: string, extra: Schema = {}) => ({ type: [type, 'null'], ...extra });
export const str = { type: 'string' };
export const bool = { type: 'boolean' };
export const oneOfStrings = (...values: string[]) => ({ type: 'string', enum: values });
export const array = (items: Schema) => ({ type: 'array', items });
export const dateTime = { type: 'string', format: 'date-time' };
export const uuid = { type: 'string', format: 'uuid' };
export const int = (minimum?: number) => ({ type: 'integer', ...(minimum !== undefined ? { minimum } : {}) });
export const obj = (properties: Schema, opts: { optional?: string[]; open?: boolean } = {}): Schema => ({
  type: 'object',
  additionalProperties: !!opts.open,
  required: Object.keys(properties).filter((k) => !opts.optional?.includes(k)),
  properties,
});
export const list = (items: Schema) =>
  obj({ items: { type: 'array', items }, total: int(0), page: int(1), page_size: int(1) });

const statusText: Record<number, string> = {
  400: 'The request does not match this document; errors[] names each field and what to send instead',
  401: 'Missing, invalid or expired bearer token',
  403: "The token's role may not do this; the problem names the role needed",
  404: 'No such object (ids are UUIDs)',
  409: 'Conflicts with what is stored: a name taken, an object in use or of another kind, a reference to nothing',
  412: 'If-Match names a version that is no longer current',
  413: 'Body larger than SLUICE_BODY_LIMIT',
  415: 'Body is not application/json',
  429: 'Too many failed authentications from this address; retry after Retry-After seconds',
  503: 'A service the operation needs (Kafka) is not reachable',
};
const problem = (status: number) => ({
  description: statusText[status],
  ...(status === 429
    ? { headers: { 'Retry-After': { description: 'Seconds until this address may try again', schema: int(1) } } }
    : {}),
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
export const json = (schema: Schema, description = 'OK') => ({
  description,
  content: { 'application/json': { schema } },
});

export const pageParams: Schema = {
  page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1, description: 'Page number, from 1.' },
  page_size: { type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Items per page.' },
};
export const textParam = (description: string, maxLength = 200) => ({
  type: 'string',
  pattern: TEXT_PATTERN,
  maxLength,
  description,
});
export const boolParam = (description: string) => ({ type: 'boolean', default: false, description });
export const dlqStatuses = ['pending', 'replay_requested', 'replayed', 'discarded', 'superseded'];

export interface OperationDecl {
  summary: string;
  role?: Role;
  /** Query parameters: name -> JSON Schema (a scalar; request-guard.ts validates and converts them). */
  query?: Schema;
  ifMatch?: boolean;
  body?: Schema;
  /** Success responses. */
  ok: Record<number, unknown>;
  /** Error statuses beyond the ones the shape implies (401/403/429 on /v1, 400 with input, 404 with ids, 413/415 with a body). */
  errors?: number[];
  security?: false;
}

export function operation(method: string, path: string, d: OperationDecl): Schema {
  const secured = d.security !== false;
  const role = d.role ?? defaultRole(method.toUpperCase());
  const params: Schema[] = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: uuid,
  }));
  for (const [name, schema] of Object.entries(d.query ?? {})) {
    const { description, ...s } = schema as Schema;
    params.push({ name, in: 'query', required: false, description, schema: s });
  }
  if (d.ifMatch) {
    params.push({
      name: 'If-Match',
      in: 'header',
      required: false,
      schema: { type: 'string', pattern: IF_MATCH.source },
      description:
        'The version you last read ("3", its ETag), several separated by ' +
        'commas, or *; 412 if the object changed since.',
    });
  }
  const errors = new Set<number>(d.errors ?? []);
  if (secured) [401, 403, 429].forEach((s) => errors.add(s));
  if (d.body || d.query || d.ifMatch) errors.add(400);
  if (params.some((p) => p.in === 'path')) errors.add(404);
  if (d.body) {
    errors.add(413);
    errors.add(415);
  }
  return {
    summary: d.summary,
    ...(secured
      ? { description: `Needs a token with role ${role} or higher.`, [ROLE_EXTENSION]: role }
      : { security: [] }),
    ...(params.length ? { parameters: params } : {}),
    ...(d.body ? { requestBody: { required: true, content: { 'application/json': { schema: d.body } } } } : {}),
    responses: { ...d.ok, ...Object.fromEntries([...errors].sort().map((s) => [s, problem(s)])) },
  };
}

/** Accepted and ignored in request bodies, so a client may PUT what it GET. */
export const ignoredMeta = Object.fromEntries(
  (['id', 'version', 'created_at', 'updated_at'] as const).map((k) => [
    k,
    {
      ...(k === 'version' ? { type: 'integer' } : { type: 'string', pattern: TEXT_PATTERN }),
      description: 'Ignored (read-only; sent back by clients that PUT what they GET).',
    },
  ]),
);
export const meta = { id: uuid, version: int(1), created_at: dateTime, updated_at: dateTime };

/** The config of one kind, in a shape; in topology documents secrets may be {"$secret": variable}. */
function configSchema(spec: KindDecl, shape: Shape, secretRefs = false): Schema {
  const s = fieldsSchema(spec.fields, shape) as { properties: Record<string, Schema> };
  if (secretRefs) {
    for (const [k, f] of Object.entries(spec.fields)) {
      if (!f.sensitive) continue;
      if (shape === 'response') s.properties[k] = ref('SecretRef');
      else s.properties[k] = { anyOf: [s.properties[k], ref('SecretRef')], description: f.description };
    }
    if (shape === 'response')
      (s as Schema).required = (((s as Schema).required as string[]) ?? []).filter((k) => !spec.fields[k].sensitive);
  }
  return s as Schema;
}

/**
 * Schemas of a family of kinded objects (name, kind, config, tags): `<One><Kind>` (response),
 * `...Input`, `...Patch`, `Topology...` and `Topology...Input` per kind, and the oneOf of each over
 * the kinds. Connectors and alert channels are such families.
 */
export function kindedSchemas(one: string, kinds: readonly KindDecl[], schemas: Schema): void {
  const variants = (prefix: string, suffix: string) =>
    kinds.map((spec) => `${prefix}${one}${pascal(spec.kind)}${suffix}`);
  const oneOf = (prefix: string, suffix: string) => ({
    oneOf: variants(prefix, suffix).map(ref),
    discriminator: {
      propertyName: 'kind',
      mapping: Object.fromEntries(
        kinds.map((spec) => [spec.kind, `#/components/schemas/${prefix}${one}${pascal(spec.kind)}${suffix}`]),
      ),
    },
  });
  for (const spec of kinds) {
    const name = `${one}${pascal(spec.kind)}`;
    const kind = { type: 'string', const: spec.kind };
    const described = { title: spec.title, description: spec.description };
    schemas[`${name}Config`] = { ...configSchema(spec, 'response'), ...described };
    schemas[name] = obj({
      ...meta,
      name: fieldSchema(envelopeFields.name, 'response'),
      kind,
      config: ref(`${name}Config`),
      tags: fieldSchema(envelopeFields.tags, 'response'),
      secrets_set: {
        ...array(str),
        description: 'The sensitive fields that have a stored value (never their values).',
      },
    });
    schemas[`${name}Input`] = obj(
      {
        name: fieldSchema(envelopeFields.name),
        kind,
        config: { ...configSchema(spec, 'request'), ...described },
        tags: fieldSchema(envelopeFields.tags),
        ...ignoredMeta,
      },
      { optional: ['tags', ...Object.keys(ignoredMeta)] },
    );
    schemas[`${name}Patch`] = obj(
      {
        name: fieldSchema(envelopeFields.name, 'patch'),
        kind,
        config: configSchema(spec, 'patch'),
        tags: fieldSchema(envelopeFields.tags, 'patch'),
        ...ignoredMeta,
      },
      { optional: ['name', 'kind', 'config', 'tags', ...Object.keys(ignoredMeta)] },
    );
    schemas[`Topology${name}`] = obj({
      name: fieldSchema(envelopeFields.name, 'response'),
      kind,
      config: configSchema(spec, 'response', true),
      tags: fieldSchema(envelopeFields.tags, 'response'),
    });
    schemas[`Topology${name}Input`] = obj(
      {
        name: fieldSchema(envelopeFields.name),
        kind,
        config: configSchema(spec, 'request', true),
        tags: fieldSchema(envelopeFields.tags),
      },
      { optional: ['tags'] },
    );
  }
  schemas[one] = oneOf('', '');
  schemas[`${one}Input`] = oneOf('', 'Input');
  // A patch need not name its kind: it must fit one kind (the object's own, or it is a 409).
  schemas[`${one}Patch`] = {
    anyOf: variants('', 'Patch').map(ref),
    description:
      'Fields to change; config is merged into the stored one and null ' +
      'resets a field to its default (or clears a secret).',
  };
  schemas[`Topology${one}`] = oneOf('Topology', '');
  schemas[`Topology${one}Input`] = oneOf('Topology', 'Input');
}
