import { isDeepStrictEqual } from 'node:util';
import { EntityManager, QueryFailedError } from 'typeorm';
import { Category, ConnectorSpec, FieldSpec, specsOf } from '../connectors';
import { FieldError, validateFields, withDefaults } from './validation';
import { ConnectorEntity } from './entities/connector.entity';
import { PipelineEntity } from './entities/pipeline.entity';
import { pipelineSpec } from '../core/pipeline-spec';
import { conflict, invalid, notFound, Problem } from './problem';
import { SecretBox } from '../core/secrets';

export { envelopeFields } from '../core/object-fields';
import { envelopeFields } from '../core/object-fields';

/**
 * A read-only field as a client may send it back: clients that PUT what they GET send these; they are
 * accepted and ignored, but must still look like what was read (the OpenAPI document describes them
 * the same way: openapi.ts, ignoredMeta).
 */
export interface ReadOnlyField {
  type: string;
  check: (v: unknown) => boolean;
}
const isString = (v: unknown) => typeof v === 'string';
export const META_READ_ONLY: Record<string, ReadOnlyField> = {
  id: { type: 'string', check: isString },
  version: { type: 'integer', check: (v) => Number.isInteger(v) },
  created_at: { type: 'string', check: isString },
  updated_at: { type: 'string', check: isString },
};
/** Objects of a kind family (connectors, alert channels) also return the names of their stored secrets. */
const KINDED_READ_ONLY: Record<string, ReadOnlyField> = {
  ...META_READ_ONLY,
  secrets_set: { type: 'list of strings', check: (v) => Array.isArray(v) && v.every(isString) },
};

type Body = Record<string, unknown>;

export function asObject(body: unknown, what = 'body'): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid([{ field: '(body)', message: `${what} must be a JSON object` }]);
  }
  return body as Body;
}

/** Drops the read-only `fields` a client sent back; they must still look like what it read. */
export function stripReadOnly(body: Body, fields: Record<string, ReadOnlyField> = META_READ_ONLY): Body {
  const errors: FieldError[] = [];
  for (const [k, f] of Object.entries(fields)) {
    const v = body[k];
    if (v !== undefined && !f.check(v)) {
      errors.push({ field: k, message: `${k} is read-only: leave it out, or send back the ${f.type} you read` });
    }
  }
  check(errors);
  return Object.fromEntries(Object.entries(body).filter(([k]) => !(k in fields)));
}

function check(errors: FieldError[]): void {
  if (errors.length) throw invalid(errors);
}

export function validateTags(tags: unknown): FieldError[] {
  if (tags === undefined || tags === null) return [];
  return validateFields({ tags: envelopeFields.tags }, { tags }, '', 'Tags', { requireAll: false });
}

export function isUniqueViolation(e: unknown): boolean {
  return e instanceof QueryFailedError && (e as unknown as { code?: string }).code === '23505';
}

export function isoDates<T extends { created_at: Date; updated_at: Date }>(o: T) {
  return { created_at: o.created_at.toISOString(), updated_at: o.updated_at.toISOString() };
}

// ---------------------------------------------------------------------------------------------
// Objects of a kind: connectors (sources, destinations, transforms) and alert channels

/** One kind's declaration, as connectors and alert channels declare them. */
export interface KindDecl {
  kind: string;
  title?: string;
  description?: string;
  fields: Record<string, FieldSpec>;
}

/** A family of kinds whose objects are name, kind, config (secrets apart) and tags. */
export interface KindFamily {
  what: string;
  kinds: readonly KindDecl[];
}

/** What such an object has stored. */
export interface KindedObject {
  name: string;
  kind: string;
  config: Body;
  secrets?: Record<string, string> | null;
  tags: Record<string, string>;
}

/** A parsed create/replace/patch body: the envelope and the validated, merged config (secrets still in it). */
export interface KindedBody {
  spec: KindDecl;
  name: string;
  config: Body;
  tags: Record<string, string>;
}

export interface ConnectorInput {
  name: string;
  kind: string;
  config: Body;
  /** Secret field -> new clear value, or null to clear it. Absent fields keep their stored value. */
  secrets: Record<string, string | null>;
  tags: Record<string, string>;
}

export function publicConnector(e: ConnectorEntity) {
  // secrets_set: which secret fields have a stored value (never the values), for read-only views like the console.
  return {
    id: e.id,
    name: e.name,
    kind: e.kind,
    config: e.config,
    secrets_set: Object.keys(e.secrets ?? {}).sort(),
    tags: e.tags,
    version: e.version,
    ...isoDates(e),
  };
}

function kindError(family: KindFamily, kind: unknown): FieldError {
  const kinds = family.kinds.map((s) => s.kind).join(', ');
  return {
    field: 'kind',
    message:
      kind === undefined
        ? `kind is required: one of ${kinds}`
        : `unknown ${family.what} kind ${JSON.stringify(kind)}: use one of ${kinds}`,
  };
}

/** Splits a validated config into stored (non-secret, defaults applied) and secret parts. */
export function splitConfig(spec: KindDecl, config: Body): { config: Body; secrets: Record<string, string | null> } {
  const publicPart: Body = {};
  const secrets: Record<string, string | null> = {};
  for (const [k, f] of Object.entries(spec.fields)) {
    if (f.sensitive) {
      if (k in config) secrets[k] = (config[k] as string | null) ?? null;
    } else {
      publicPart[k] = config[k];
    }
  }
  return {
    config: withDefaults(Object.fromEntries(Object.entries(spec.fields).filter(([, f]) => !f.sensitive)), publicPart),
    secrets,
  };
}

const configClass = (family: KindFamily, spec: KindDecl) => `Config_${family.what.replace(/\W/g, '_')}_${spec.kind}`;

/** Errors of `config` as a patch of `spec` on its own: each field valid, no required field set to null. */
function patchErrors(family: KindFamily, spec: KindDecl, config: Body): FieldError[] {
  const errors = validateFields(spec.fields, config, 'config', configClass(family, spec), { requireAll: false });
  for (const [k, f] of Object.entries(spec.fields)) {
    if (f.required && config[k] === null)
      errors.push({ field: `config.${k}`, message: `${k} cannot be null: it is required (${f.description})` });
  }
  return errors;
}

/**
 * Whether a body the stored object's kind rejects would be a valid body for some other kind of the
 * family: then it matches the OpenAPI document and the answer is 409 (it conflicts with what is
 * stored), not 400. Returns that kind.
 */
function fitsOtherKind(
  family: KindFamily,
  body: Body,
  mode: 'replace' | 'patch',
  existing: KindedObject,
): string | undefined {
  const config = (body.config ?? {}) as Body;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return undefined;
  return family.kinds.find(
    (spec) =>
      spec.kind !== existing.kind &&
      (body.kind === undefined || body.kind === spec.kind) &&
      !(
        mode === 'patch'
          ? patchErrors(family, spec, config)
          : validateFields(spec.fields, config, 'config', configClass(family, spec), { requireAll: true })
      ).length,
  )?.kind;
}

/**
 * Validates a create (existing undefined), replace or patch body of an object of a kind family.
 * Returns the envelope and the merged config; throws a 400 Problem naming every bad field, or 409
 * when the body is valid for another kind than the stored object's (kind cannot change).
 */
export function parseKinded(
  family: KindFamily,
  raw: unknown,
  mode: 'create' | 'replace' | 'patch',
  existing?: KindedObject,
): KindedBody {
  const body = stripReadOnly(asObject(raw), KINDED_READ_ONLY);
  const errors: FieldError[] = [];
  for (const k of Object.keys(body)) {
    if (!['name', 'kind', 'config', 'tags'].includes(k))
      errors.push({ field: k, message: `unknown field ${k}: allowed are name, kind, config, tags` });
  }
  const nameErrs = validateFields({ name: envelopeFields.name }, { name: body.name }, '', 'Envelope', {
    requireAll: mode !== 'patch',
  });
  if (mode === 'patch' && body.name === null)
    nameErrs.push({ field: 'name', message: 'name cannot be null: send a new name or leave it out' });
  errors.push(...nameErrs, ...validateTags(body.tags));
  check(errors);

  if (mode === 'patch' && body.kind === null)
    errors.push({ field: 'kind', message: `kind cannot be null: leave it out (it is ${existing!.kind})` });
  const kind = mode === 'patch' ? (body.kind ?? existing!.kind) : body.kind;
  const spec = typeof kind === 'string' ? family.kinds.find((k) => k.kind === kind) : undefined;
  if (!spec) errors.push(kindError(family, kind));
  if (
    body.config !== undefined &&
    (body.config === null || typeof body.config !== 'object' || Array.isArray(body.config))
  ) {
    errors.push({ field: 'config', message: 'config must be a JSON object' });
  }
  check(errors);
  const kindChange = (other: string) =>
    new Problem(
      409,
      'Conflict',
      `${family.what} ${JSON.stringify(existing!.name)} is of kind ${existing!.kind}; this body is ` +
        `for kind ${other}, and the kind of an object cannot change: create a new ${family.what} instead.`,
      [{ field: 'kind', message: `kind cannot change (it is ${existing!.kind})` }],
    );
  if (existing && mode !== 'create' && spec!.kind !== existing.kind) {
    if (fitsOtherKind(family, body, mode, existing) === spec!.kind) throw kindChange(spec!.kind);
    errors.push({
      field: 'kind',
      message: `kind cannot change (it is ${existing.kind}): create a new ${family.what} instead`,
    });
  }

  const sent = (body.config as Body | undefined) ?? (mode === 'patch' ? {} : undefined);
  if (sent === undefined) {
    errors.push({ field: 'config', message: `config is required: the settings of a ${spec!.kind} ${family.what}` });
    check(errors);
  }
  // A patch merges into the stored config; null resets a field to its default (or clears a secret).
  const merged: Body = mode === 'patch' ? { ...existing!.config, ...sent } : { ...sent };
  const storedSecrets = new Set(Object.keys(existing?.secrets ?? {}));
  for (const [k, v] of Object.entries(sent!)) if (v === null) storedSecrets.delete(k);
  errors.push(
    ...validateFields(spec!.fields, merged, 'config', configClass(family, spec!), {
      requireAll: true,
      present: storedSecrets,
    }),
  );
  if (errors.length && existing && mode === 'patch') {
    const other = fitsOtherKind(family, body, mode, existing);
    if (other) throw kindChange(other);
  }
  check(errors);
  return {
    spec: spec!,
    name: (body.name as string | undefined) ?? existing!.name,
    config: merged,
    tags: (body.tags as Record<string, string> | undefined | null) ?? (mode === 'patch' ? existing!.tags : {}),
  };
}

const connectorFamilies = new Map<Category, KindFamily>();
const familyOf = (category: Category) => {
  let f = connectorFamilies.get(category);
  if (!f) connectorFamilies.set(category, (f = { what: category, kinds: specsOf(category) }));
  return f;
};

/**
 * Validates a create (existing undefined), replace or patch body of a connector. Returns what to
 * store; throws a 400 Problem naming every bad field, or 409 when the body is valid for another
 * kind than the stored object's (kind cannot change).
 */
export function parseConnector(
  category: Category,
  raw: unknown,
  mode: 'create' | 'replace' | 'patch',
  existing?: ConnectorEntity,
): { input: ConnectorInput; spec: ConnectorSpec } {
  const parsed = parseKinded(familyOf(category), raw, mode, existing);
  const { config, secrets } = splitConfig(parsed.spec, parsed.config);
  return {
    spec: parsed.spec as ConnectorSpec,
    input: { name: parsed.name, kind: parsed.spec.kind, config, secrets, tags: parsed.tags },
  };
}

/** Applies parsed input to an entity; returns the names of the fields that changed (for audit). */
export function applyConnector(e: ConnectorEntity, input: ConnectorInput, box: SecretBox): string[] {
  const changed: string[] = [];
  if (e.name !== input.name) changed.push('name');
  if (!isDeepStrictEqual(e.tags ?? {}, input.tags)) changed.push('tags');
  // jsonb reorders object keys, so compare structurally rather than as JSON text.
  for (const [k, v] of Object.entries(input.config))
    if (!isDeepStrictEqual(e.config?.[k], v)) changed.push(`config.${k}`);
  const secrets = { ...(e.secrets ?? {}) };
  for (const [k, v] of Object.entries(input.secrets)) {
    if (v === null) {
      if (k in secrets) changed.push(`config.${k}`);
      delete secrets[k];
    } else if (!(k in secrets) || box.decrypt(secrets[k], k) !== v) {
      secrets[k] = box.encrypt(v, k);
      changed.push(`config.${k}`);
    }
  }
  e.name = input.name;
  e.kind = input.kind;
  e.config = input.config;
  e.secrets = secrets;
  e.tags = input.tags;
  return changed;
}

export async function pipelinesUsing(m: EntityManager, id: string): Promise<string[]> {
  const rows: { name: string }[] = await m.query(
    'SELECT name FROM pipelines WHERE source_id = $1 OR destination_id = ' +
      '$1 OR transform_ids @> $2::jsonb ORDER BY name',
    [id, JSON.stringify([id])],
  );
  return rows.map((r) => r.name);
}

// ---------------------------------------------------------------------------------------------
// Pipelines

/** The fields a pipeline is written with: `name`, `tags` and the declaration's (core/pipeline-spec.ts), in its order. */
export const pipelineFieldNames = ['name', ...Object.keys(pipelineSpec.fields), 'tags'] as (keyof PipelineEntity)[];

export type PipelineInput = Pick<
  PipelineEntity,
  | 'name'
  | 'source_id'
  | 'destination_id'
  | 'transform_ids'
  | 'tables'
  | 'ingestion_mode'
  | 'snapshot_new_tables'
  | 'schema_changes'
  | 'delivery'
  | 'desired_state'
  | 'tags'
>;

export function publicPipeline(p: PipelineEntity) {
  return {
    id: p.id,
    ...Object.fromEntries(pipelineFieldNames.map((k) => [k, p[k]])),
    version: p.version,
    ...isoDates(p),
  } as Record<string, unknown> & { id: string; version: number };
}

const pipelineFields: Record<string, FieldSpec> = { ...envelopeFields, ...pipelineSpec.fields };

export async function parsePipeline(
  m: EntityManager,
  raw: unknown,
  mode: 'create' | 'replace' | 'patch',
  existing?: PipelineEntity,
): Promise<PipelineInput> {
  const body = stripReadOnly(asObject(raw));
  const errors: FieldError[] = [];
  const base: Body = mode === 'patch' ? { ...publicPipeline(existing!) } : {};
  delete base.id;
  delete base.version;
  delete base.created_at;
  delete base.updated_at;
  const merged: Body = { ...base, ...body };
  if (mode === 'patch' && body.delivery && typeof body.delivery === 'object' && !Array.isArray(body.delivery)) {
    merged.delivery = { ...existing!.delivery, ...(body.delivery as Body) };
  }
  errors.push(...validateFields(pipelineFields, merged, '', 'PipelineInput', { requireAll: true }));
  if (!errors.some((e) => e.field === 'tags' || e.field.startsWith('tags.'))) errors.push(...validateTags(merged.tags));
  check(errors);

  const input = withDefaults(pipelineFields, merged) as unknown as PipelineInput;
  // References must point at existing objects of the right category: the body is well formed, so a
  // dangling or wrong reference conflicts with what is stored (409).
  const refs: [string, string, Category][] = [
    ['source_id', input.source_id, 'source'],
    ['destination_id', input.destination_id, 'destination'],
    ...input.transform_ids.map((id, i) => [`transform_ids[${i}]`, id, 'transform'] as [string, string, Category]),
  ];
  const ids = refs.map((r) => r[1]);
  const found: { id: string; category: string }[] = ids.length
    ? await m.query(`SELECT id::text, category FROM connectors WHERE id = ANY($1::uuid[]) FOR SHARE`, [ids])
    : [];
  const byId = new Map(found.map((r) => [r.id, r.category]));
  for (const [field, id, category] of refs) {
    const c = byId.get(id);
    if (c !== category)
      errors.push({
        field,
        message: c
          ? `${id} is a ${c}, not a ${category}`
          : `no ${category} with id ${id}: create it first or fix the id`,
      });
  }
  if (errors.length) throw conflict(errors);
  return input;
}

export function applyPipeline(p: PipelineEntity, input: PipelineInput): string[] {
  const changed = (Object.keys(input) as (keyof PipelineInput)[]).filter((k) => !isDeepStrictEqual(p[k], input[k]));
  Object.assign(p, input);
  return changed;
}

export function conflictOnName(collection: string, name: string): Problem {
  return new Problem(
    409,
    'Conflict',
    `A ${collection.replace(/s$/, '')} named ${JSON.stringify(name)} already exists: names are unique per collection; pick another name or update that object.`,
    [{ field: 'name', message: 'already in use' }],
  );
}

export { notFound };
