import { isDeepStrictEqual } from 'node:util';
import type { EntityManager } from 'typeorm';
import { FieldError, validateFields, withDefaults } from '../validation';
import { envelopeFields } from '../../core/object-fields';
import { validateTags } from '../objects';
import { invalid } from '../problem';
import { SecretBox } from '../../core/secrets';
import { alertRuleSpec, channelKinds, findChannelKind } from '../../core/alert-spec';

/**
 * Alert channels and rules as stored objects: validation from the declarations in spec.ts, the
 * public (secret-free) shape, and applying a change to a row. Routes (routes.ts) and import
 * (topology.ts) share these, so both validate the same way.
 */
type Body = Record<string, unknown>;
const readOnly = new Set(['id', 'version', 'created_at', 'updated_at', 'secrets_set', 'firing']);
const iso = (d: Date | string) => new Date(d).toISOString();

export interface ChannelRow { id: string; name: string; kind: string; config: Body; secrets: Record<string, string>; tags: Record<string, string>; version: number; created_at: Date; updated_at: Date }
export interface RuleRow {
  id: string; name: string; condition: string; pipeline_id: string | null; selector: Record<string, string>; threshold: string | number; for_seconds: number;
  channel_ids: string[]; enabled: boolean; tags: Record<string, string>; version: number; created_at: Date; updated_at: Date;
}

export const publicChannel = (c: ChannelRow) => ({
  id: c.id, name: c.name, kind: c.kind, config: c.config, secrets_set: Object.keys(c.secrets ?? {}).sort(), tags: c.tags, version: c.version, created_at: iso(c.created_at), updated_at: iso(c.updated_at),
});

export const publicRule = (r: RuleRow) => ({
  id: r.id, name: r.name, condition: r.condition, pipeline_id: r.pipeline_id, selector: r.selector, threshold: Number(r.threshold), for_seconds: r.for_seconds,
  channel_ids: r.channel_ids, enabled: r.enabled, tags: r.tags, version: r.version, created_at: iso(r.created_at), updated_at: iso(r.updated_at),
});

function asObject(raw: unknown): Body {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid([{ field: '(body)', message: 'body must be a JSON object' }]);
  return Object.fromEntries(Object.entries(raw as Body).filter(([k]) => !readOnly.has(k)));
}
const check = (errors: FieldError[]) => { if (errors.length) throw invalid(errors); };

export interface ChannelInput { name: string; kind: string; config: Body; secrets: Record<string, string | null>; tags: Record<string, string> }

/** A create/replace/patch body of an alert channel; 400 naming every bad field. */
export function parseChannel(raw: unknown, mode: 'create' | 'replace' | 'patch', existing?: ChannelRow): ChannelInput {
  const body = asObject(raw);
  const errors: FieldError[] = [];
  for (const k of Object.keys(body)) if (!['name', 'kind', 'config', 'tags'].includes(k)) errors.push({ field: k, message: `unknown field ${k}: allowed are name, kind, config, tags` });
  errors.push(...validateFields({ name: envelopeFields.name }, { name: body.name }, '', 'AlertChannelEnvelope', { requireAll: mode !== 'patch' }), ...validateTags(body.tags));
  const kind = mode === 'patch' ? (body.kind ?? existing!.kind) : body.kind;
  const spec = findChannelKind(kind);
  const kinds = channelKinds.map((k) => k.kind).join(', ');
  if (!spec) { errors.push({ field: 'kind', message: kind === undefined ? `kind is required: one of ${kinds}` : `unknown channel kind ${JSON.stringify(kind)}: use one of ${kinds}` }); check(errors); }
  if (existing && kind !== existing.kind) errors.push({ field: 'kind', message: `kind cannot change (it is ${existing.kind}): create a new channel instead` });
  const sent = body.config ?? (mode === 'patch' ? {} : undefined);
  if (sent === undefined || sent === null || typeof sent !== 'object' || Array.isArray(sent)) {
    errors.push({ field: 'config', message: `config is required: a JSON object with the settings of a ${spec!.kind} channel` });
    check(errors);
  }
  const merged: Body = mode === 'patch' ? { ...existing!.config, ...(sent as Body) } : { ...(sent as Body) };
  const stored = new Set(Object.keys(existing?.secrets ?? {}));
  for (const [k, v] of Object.entries(sent as Body)) if (v === null) stored.delete(k);
  errors.push(...validateFields(spec!.fields, merged, 'config', `AlertChannelConfig_${spec!.kind}`, { requireAll: true, present: stored }));
  check(errors);
  const config: Body = {};
  const secrets: Record<string, string | null> = {};
  for (const [k, f] of Object.entries(spec!.fields)) {
    if (f.sensitive) { if (k in merged) secrets[k] = (merged[k] as string | null) ?? null; } else if (merged[k] !== undefined && merged[k] !== null) config[k] = merged[k];
  }
  return { name: (body.name as string | undefined) ?? existing!.name, kind: spec!.kind, config, secrets, tags: (body.tags as Record<string, string> | undefined) ?? (mode === 'patch' ? existing!.tags : {}) };
}

/** Applies a parsed channel to a row (secrets encrypted); returns the changed field names, for audit. */
export function applyChannel(row: Partial<ChannelRow>, input: ChannelInput, box: SecretBox): string[] {
  const changed: string[] = [];
  if (row.name !== input.name) changed.push('name');
  if (!isDeepStrictEqual(row.tags ?? {}, input.tags)) changed.push('tags');
  for (const k of new Set([...Object.keys(row.config ?? {}), ...Object.keys(input.config)])) if (!isDeepStrictEqual(row.config?.[k], input.config[k])) changed.push(`config.${k}`);
  const secrets = { ...(row.secrets ?? {}) };
  for (const [k, v] of Object.entries(input.secrets)) {
    if (v === null) { if (k in secrets) changed.push(`config.${k}`); delete secrets[k]; } else if (!(k in secrets) || box.decrypt(secrets[k], `alert_channel.${k}`) !== v) {
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

/** A create/replace/patch body of an alert rule; checks that its pipeline and channels exist. */
export async function parseRule(m: Pick<EntityManager, 'query'>, raw: unknown, mode: 'create' | 'replace' | 'patch', existing?: RuleRow): Promise<RuleInput> {
  const body = asObject(raw);
  const base: Body = mode === 'patch' && existing ? publicRule(existing) : {};
  for (const k of readOnly) delete base[k];
  const merged = { ...base, ...body };
  const errors = validateFields(ruleFields, merged, '', 'AlertRuleInput', { requireAll: true });
  if (!errors.some((e) => e.field.startsWith('tags'))) errors.push(...validateTags(merged.tags));
  check(errors);
  const input = withDefaults(ruleFields, merged) as unknown as RuleInput;
  if (!input.channel_ids.length) errors.push({ field: 'channel_ids', message: 'name at least one alert channel (its id)' });
  if (new Set(input.channel_ids).size !== input.channel_ids.length) errors.push({ field: 'channel_ids', message: 'a channel may appear only once' });
  if (input.pipeline_id && Object.keys(input.selector).length) errors.push({ field: 'selector', message: 'set either pipeline_id or selector, not both' });
  if (input.pipeline_id && !(await m.query(`SELECT 1 FROM pipelines WHERE id = $1`, [input.pipeline_id])).length) {
    errors.push({ field: 'pipeline_id', message: `no pipeline with id ${input.pipeline_id}: create it first or fix the id` });
  }
  const found: { id: string }[] = input.channel_ids.length ? await m.query(`SELECT id::text FROM alert_channels WHERE id = ANY($1::uuid[])`, [input.channel_ids]) : [];
  input.channel_ids.forEach((id, i) => { if (!found.some((f) => f.id === id)) errors.push({ field: `channel_ids[${i}]`, message: `no alert channel with id ${id}: create it first or fix the id` }); });
  check(errors);
  return input;
}

export function changedRuleFields(row: RuleRow | undefined, input: RuleInput): string[] {
  const cur: Body = row ? publicRule(row) : {};
  return (Object.keys(input) as (keyof RuleInput)[]).filter((k) => !isDeepStrictEqual(cur[k], input[k]));
}

export const RULE_COLUMNS = ['name', 'condition', 'pipeline_id', 'selector', 'threshold', 'for_seconds', 'channel_ids', 'enabled', 'tags'] as const;
export const ruleValues = (i: RuleInput) => [i.name, i.condition, i.pipeline_id ?? null, JSON.stringify(i.selector), i.threshold, i.for_seconds, JSON.stringify(i.channel_ids), i.enabled, JSON.stringify(i.tags)];
