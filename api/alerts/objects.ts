import { isDeepStrictEqual } from 'node:util';
import type { EntityManager } from 'typeorm';
import { FieldError, validateFields, withDefaults } from '../validation';
import { envelopeFields } from '../../core/object-fields';
import {
  asObject,
  META_READ_ONLY,
  parseKinded,
  ReadOnlyField,
  splitConfig,
  stripReadOnly,
  validateTags,
} from '../objects';
import { RFC3339_RE, UUID_RE } from '../../core/patterns';
import { invalid, Problem } from '../problem';
import { SecretBox } from '../../core/secrets';
import { alertRuleSpec, channelKinds, isSet } from '../../core/alert-spec';

/**
 * Alert channels and rules as stored objects: validation from the declarations in spec.ts, the
 * public (secret-free) shape, and applying a change to a row. Routes (routes.ts) and import
 * (topology.ts) share these, so both validate the same way.
 */
type Body = Record<string, unknown>;
/** An item of a rule's read-only `firing` list, as the API returns it (openapi: AlertRuleInput). */
function isFiringItem(x: unknown): boolean {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const o = x as Record<string, unknown>;
  return (
    Object.keys(o).every((k) => ['pipeline_id', 'pipeline', 'since'].includes(k)) &&
    typeof o.pipeline_id === 'string' &&
    UUID_RE.test(o.pipeline_id) &&
    typeof o.pipeline === 'string' &&
    typeof o.since === 'string' &&
    RFC3339_RE.test(o.since)
  );
}
const RULE_READ_ONLY: Record<string, ReadOnlyField> = {
  ...META_READ_ONLY,
  firing: { type: 'list of {pipeline_id, pipeline, since}', check: (v) => Array.isArray(v) && v.every(isFiringItem) },
};
const iso = (d: Date | string) => new Date(d).toISOString();

export interface ChannelRow {
  id: string;
  name: string;
  kind: string;
  config: Body;
  secrets: Record<string, string>;
  tags: Record<string, string>;
  version: number;
  created_at: Date;
  updated_at: Date;
}
export interface RuleRow {
  id: string;
  name: string;
  condition: string;
  pipeline_id: string | null;
  selector: Record<string, string>;
  threshold: string | number;
  for_seconds: number;
  channel_ids: string[];
  enabled: boolean;
  tags: Record<string, string>;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export const publicChannel = (c: ChannelRow) => ({
  id: c.id,
  name: c.name,
  kind: c.kind,
  config: c.config,
  secrets_set: Object.keys(c.secrets ?? {}).sort(),
  tags: c.tags,
  version: c.version,
  created_at: iso(c.created_at),
  updated_at: iso(c.updated_at),
});

export const publicRule = (r: RuleRow) => ({
  id: r.id,
  name: r.name,
  condition: r.condition,
  pipeline_id: r.pipeline_id,
  selector: r.selector,
  threshold: Number(r.threshold),
  for_seconds: r.for_seconds,
  channel_ids: r.channel_ids,
  enabled: r.enabled,
  tags: r.tags,
  version: r.version,
  created_at: iso(r.created_at),
  updated_at: iso(r.updated_at),
});

const check = (errors: FieldError[]) => {
  if (errors.length) throw invalid(errors);
};

export interface ChannelInput {
  name: string;
  kind: string;
  config: Body;
  secrets: Record<string, string | null>;
  tags: Record<string, string>;
}

const channelFamily = { what: 'alert channel', kinds: channelKinds };

/**
 * A create/replace/patch body of an alert channel, validated as connectors are (objects.ts,
 * parseKinded): 400 naming every bad field, 409 when the body is for another kind than the stored one.
 */
export function parseChannel(raw: unknown, mode: 'create' | 'replace' | 'patch', existing?: ChannelRow): ChannelInput {
  const { spec, name, config: merged, tags } = parseKinded(channelFamily, raw, mode, existing);
  const { config, secrets } = splitConfig(spec, merged);
  return { name, kind: spec.kind, config, secrets, tags };
}

/** Applies a parsed channel to a row (secrets encrypted); returns the changed field names, for audit. */
export function applyChannel(row: Partial<ChannelRow>, input: ChannelInput, box: SecretBox): string[] {
  const changed: string[] = [];
  if (row.name !== input.name) changed.push('name');
  if (!isDeepStrictEqual(row.tags ?? {}, input.tags)) changed.push('tags');
  for (const k of new Set([...Object.keys(row.config ?? {}), ...Object.keys(input.config)]))
    if (!isDeepStrictEqual(row.config?.[k], input.config[k])) changed.push(`config.${k}`);
  const secrets = { ...(row.secrets ?? {}) };
  for (const [k, v] of Object.entries(input.secrets)) {
    if (v === null) {
      if (k in secrets) changed.push(`config.${k}`);
      delete secrets[k];
    } else if (!(k in secrets) || box.decrypt(secrets[k], `alert_channel.${k}`) !== v) {
      secrets[k] = box.encrypt(v, `alert_channel.${k}`);
      changed.push(`config.${k}`);
    }
  }
  Object.assign(row, { name: input.name, kind: input.kind, config: input.config, secrets, tags: input.tags });
  return changed;
}

/** A channel's config with its secrets decrypted, for sending only. */
export function openChannel(row: Pick<ChannelRow, 'config' | 'secrets'>, box: SecretBox): Body {
  const cfg: Body = { ...row.config };
  for (const [k, enc] of Object.entries(row.secrets ?? {})) cfg[k] = box.decrypt(enc, `alert_channel.${k}`);
  return cfg;
}

/** The row of an `INSERT/UPDATE ... RETURNING *` (TypeORM answers an UPDATE with [rows, count]). */
export const returned = <T>(r: any): T => (Array.isArray(r[0]) ? r[0][0] : r[0]);

export type RuleInput = Omit<ReturnType<typeof publicRule>, 'id' | 'version' | 'created_at' | 'updated_at'>;
const ruleFields = { ...envelopeFields, ...alertRuleSpec.fields };

/**
 * A create/replace/patch body of an alert rule. 400 when the body does not match the OpenAPI document;
 * 409 when it does but conflicts: a pipeline or channel that does not exist, or pipeline_id and
 * selector both set (in the body, or by a patch merged with the stored rule). The exclusion is not
 * in the document because fuzzers (schemathesis' stateful phase) fill pipeline_id from a link into
 * bodies drawn with a selector, and call the 400 a valid request rejected.
 */
export async function parseRule(
  m: Pick<EntityManager, 'query'>,
  raw: unknown,
  mode: 'create' | 'replace' | 'patch',
  existing?: RuleRow,
): Promise<RuleInput> {
  const body = stripReadOnly(asObject(raw), RULE_READ_ONLY);
  const base: Body = mode === 'patch' && existing ? publicRule(existing) : {};
  for (const k of Object.keys(RULE_READ_ONLY)) delete base[k];
  const merged = { ...base, ...body };
  const errors = validateFields(ruleFields, merged, '', 'AlertRuleInput', { requireAll: true });
  if (!errors.some((e) => e.field.startsWith('tags'))) errors.push(...validateTags(merged.tags));
  check(errors);
  const input = withDefaults(ruleFields, merged) as unknown as RuleInput;
  const conflicts: FieldError[] = [];
  for (const [a, b] of alertRuleSpec.exclusive) {
    if (!isSet(merged[a]) || !isSet(merged[b])) continue;
    const both = isSet(body[a]) && isSet(body[b]);
    conflicts.push({
      field: b,
      message: both
        ? `set either ${a} or ${b}, not both`
        : `the rule already has ${isSet(body[a]) ? b : a} set: set it to null (or empty) in the same request, or leave ${isSet(body[a]) ? a : b} out`,
    });
  }
  if (input.pipeline_id && !(await m.query(`SELECT 1 FROM pipelines WHERE id = $1`, [input.pipeline_id])).length) {
    conflicts.push({
      field: 'pipeline_id',
      message: `no pipeline with id ${input.pipeline_id}: create it first or fix the id`,
    });
  }
  const found: { id: string }[] = input.channel_ids.length
    ? await m.query(`SELECT id::text FROM alert_channels WHERE id = ANY($1::uuid[])`, [input.channel_ids])
    : [];
  input.channel_ids.forEach((id, i) => {
    if (!found.some((f) => f.id === id))
      conflicts.push({
        field: `channel_ids[${i}]`,
        message: `no alert channel with id ${id}: create it first or fix the id`,
      });
  });
  if (conflicts.length)
    throw new Problem(
      409,
      'Conflict',
      `alert rule ${JSON.stringify(input.name)} conflicts with what is stored: ${conflicts.map((c) => c.message).join('; ')}`,
      conflicts,
    );
  return input;
}

export function changedRuleFields(row: RuleRow | undefined, input: RuleInput): string[] {
  const cur: Body = row ? publicRule(row) : {};
  return (Object.keys(input) as (keyof RuleInput)[]).filter((k) => !isDeepStrictEqual(cur[k], input[k]));
}

export const RULE_COLUMNS = [
  'name',
  'condition',
  'pipeline_id',
  'selector',
  'threshold',
  'for_seconds',
  'channel_ids',
  'enabled',
  'tags',
] as const;
export const ruleValues = (i: RuleInput) => [
  i.name,
  i.condition,
  i.pipeline_id ?? null,
  JSON.stringify(i.selector),
  i.threshold,
  i.for_seconds,
  JSON.stringify(i.channel_ids),
  i.enabled,
  JSON.stringify(i.tags),
];
