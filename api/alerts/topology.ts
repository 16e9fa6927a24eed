import type { Request } from 'express';
import type { EntityManager } from 'typeorm';
import { audit } from '../audit';
import type { FieldError } from '../validation';
import { block, Expr, HclValue, label, uniqueLabels } from '../hcl';
import { Problem } from '../problem';
import { secretRef } from '../secret-ref';
import { SecretBox } from '../../core/secrets';
import {
  applyChannel,
  returned,
  ChannelRow,
  changedRuleFields,
  parseChannel,
  parseRule,
  publicRule,
  RULE_COLUMNS,
  RuleRow,
  ruleValues,
} from './objects';
import { channelKinds, findChannelKind } from '../../core/alert-spec';

/**
 * Alert channels and rules in the topology document (export/import) and in the HCL export.
 * Channels by name with secrets as {"$secret": "<variable>"}; rules reference their pipeline and
 * channels by name.
 */
export interface TopologyAlertChannel {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  tags: Record<string, string>;
}
export interface TopologyAlertRule {
  name: string;
  condition: string;
  pipeline: string | null;
  selector: Record<string, string>;
  threshold: number;
  for_seconds: number;
  channels: string[];
  enabled: boolean;
  tags: Record<string, string>;
}
export interface PlanChange {
  action: 'create' | 'update' | 'delete' | 'unchanged';
  type: 'alert_channel' | 'alert_rule';
  name: string;
  id?: string;
  fields?: string[];
}

const secretNames = (kind: string) =>
  Object.entries(channelKinds.find((k) => k.kind === kind)?.fields ?? {})
    .filter(([, f]) => f.sensitive)
    .map(([n]) => n);
const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

async function load(m: Pick<EntityManager, 'query'>) {
  const channels: ChannelRow[] = (await m.query(`SELECT * FROM alert_channels`)).sort(byName);
  const rules: RuleRow[] = (await m.query(`SELECT * FROM alert_rules`)).sort(byName);
  const pipelines = new Map<string, string>(
    (await m.query(`SELECT id, name FROM pipelines`)).map((p: { id: string; name: string }) => [p.id, p.name]),
  );
  return { channels, rules, pipelines };
}

const variable = (c: ChannelRow, field: string) => `alert_channel_${label(c.name)}_${field}`;

function channelConfig<S>(c: ChannelRow, secret: (field: string) => S): Record<string, unknown> {
  const fields = Object.keys(channelKinds.find((k) => k.kind === c.kind)?.fields ?? {});
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (f in (c.secrets ?? {})) out[f] = secret(f);
    else if (c.config[f] !== undefined) out[f] = c.config[f];
  }
  return out;
}

export async function exportAlerts(
  m: Pick<EntityManager, 'query'>,
): Promise<{ alert_channels: TopologyAlertChannel[]; alert_rules: TopologyAlertRule[] }> {
  const { channels, rules, pipelines } = await load(m);
  const chName = new Map(channels.map((c) => [c.id, c.name]));
  return {
    alert_channels: channels.map((c) => ({
      name: c.name,
      kind: c.kind,
      config: channelConfig(c, (f) => ({ $secret: variable(c, f) })),
      tags: c.tags,
    })),
    alert_rules: rules.map((r) => {
      const p = publicRule(r);
      return {
        name: p.name,
        condition: p.condition,
        pipeline: p.pipeline_id ? (pipelines.get(p.pipeline_id) ?? null) : null,
        selector: p.selector,
        threshold: p.threshold,
        for_seconds: p.for_seconds,
        channels: p.channel_ids.map((id) => chName.get(id)!),
        enabled: p.enabled,
        tags: p.tags,
      };
    }),
  };
}

/** HCL blocks (variables, resources, optional import blocks); `pipelineAddr` maps a pipeline id to its resource address. */
export async function alertsHcl(
  m: Pick<EntityManager, 'query'>,
  pipelineAddr: Map<string, string>,
  importBlocks: boolean,
): Promise<string[]> {
  const { channels, rules } = await load(m);
  const out: string[] = [];
  const chLabels = uniqueLabels(channels.map((c) => c.name));
  const ruleLabels = uniqueLabels(rules.map((r) => r.name));
  for (const c of channels)
    for (const f of secretNames(c.kind))
      if (f in (c.secrets ?? {}))
        out.push(`variable "${variable(c, f)}" {\n  type      = string\n  sensitive = true\n}\n`);
  for (const c of channels) {
    out.push(
      block(`resource "sluice_alert_channel" "${chLabels.get(c.name)}"`, {
        name: c.name,
        kind: c.kind,
        ...(channelConfig(c, (f) => new Expr(`var.${variable(c, f)}`)) as Record<string, HclValue>),
        tags: Object.keys(c.tags).length ? c.tags : undefined,
      }),
    );
  }
  const chAddr = new Map(channels.map((c) => [c.id, `sluice_alert_channel.${chLabels.get(c.name)}`]));
  for (const r of rules) {
    const p = publicRule(r);
    out.push(
      block(`resource "sluice_alert_rule" "${ruleLabels.get(r.name)}"`, {
        name: p.name,
        condition: p.condition,
        pipeline_id: p.pipeline_id ? new Expr(`${pipelineAddr.get(p.pipeline_id)}.id`) : undefined,
        selector: Object.keys(p.selector).length ? p.selector : undefined,
        threshold: p.threshold,
        for_seconds: p.for_seconds,
        channel_ids: p.channel_ids.map((id) => new Expr(`${chAddr.get(id)}.id`)),
        enabled: p.enabled,
        tags: Object.keys(p.tags).length ? p.tags : undefined,
      }),
    );
  }
  if (importBlocks) {
    for (const c of channels) out.push(`import {\n  to = ${chAddr.get(c.id)}\n  id = "${c.id}"\n}\n`);
    for (const r of rules)
      out.push(`import {\n  to = sluice_alert_rule.${ruleLabels.get(r.name)}\n  id = "${r.id}"\n}\n`);
  }
  return out;
}

/**
 * Applies the document's alert channels and rules (idempotent by name) inside the import's
 * transaction; with `prune`, deletes the ones it does not name. Field errors are collected with
 * their document path.
 */
export async function importAlerts(
  m: EntityManager,
  req: Request,
  box: SecretBox,
  doc: Record<string, unknown>,
  secretValues: Record<string, unknown>,
  prune: boolean,
  changes: { push(c: PlanChange): unknown },
  errors: FieldError[],
): Promise<void> {
  const { channels, rules } = await load(m);
  const keepCh = new Set<string>();
  const chIds = new Map(channels.map((c) => [c.name, c.id]));
  for (const [i, item] of ((doc.alert_channels ?? []) as Record<string, any>[]).entries()) {
    const path = `alert_channels[${i}]`;
    const current = channels.find((c) => c.name === item?.name);
    const config = item && typeof item.config === 'object' && item.config !== null ? { ...item.config } : item?.config;
    if (config && typeof config === 'object') {
      // Only a secret field of the channel's kind takes a placeholder (the document's SecretRef).
      const fields = findChannelKind(item?.kind)?.fields ?? {};
      for (const [k, v] of Object.entries(config as Record<string, any>)) {
        const varName = fields[k]?.sensitive ? secretRef(v) : undefined;
        if (varName === undefined) continue;
        const value = secretValues[varName];
        if (typeof value === 'string') config[k] = value;
        else if (current?.secrets?.[k]) delete config[k];
        else {
          errors.push({
            field: `secrets.${varName}`,
            message: `no value for secret ${varName} (${path}.config.${k}): pass it in "secrets"`,
          });
          delete config[k];
        }
      }
    }
    let input;
    try {
      input = parseChannel({ ...item, config }, current ? 'replace' : 'create', current);
    } catch (e) {
      if (e instanceof Problem && e.errors) {
        errors.push(...e.errors.map((x) => ({ ...x, field: `${path}.${x.field}` })));
        continue;
      }
      throw e;
    }
    keepCh.add(input.name);
    const row: Partial<ChannelRow> = current ? { ...current } : {};
    const changed = applyChannel(row, input, box);
    if (current && !changed.length) {
      changes.push({ action: 'unchanged', type: 'alert_channel', name: input.name, id: current.id });
      continue;
    }
    const args = [
      row.name,
      row.kind,
      JSON.stringify(row.config),
      JSON.stringify(row.secrets),
      JSON.stringify(row.tags),
    ];
    const s = returned<any>(
      current
        ? await m.query(
            'UPDATE alert_channels SET name = $2, kind = $3, config = $4, secrets ' +
              '= $5, tags = $6, version = version + 1, updated_at = now() WHERE id = ' +
              '$1 RETURNING *',
            [current.id, ...args],
          )
        : await m.query(
            `INSERT INTO alert_channels (name, kind, config, secrets, tags) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
            args,
          ),
    );
    chIds.set(s.name, s.id);
    await audit(m, req, current ? 'update' : 'create', 'alert_channel', s, changed, 'import');
    changes.push({
      action: current ? 'update' : 'create',
      type: 'alert_channel',
      name: s.name,
      id: current ? s.id : undefined,
      fields: changed,
    });
  }
  if (errors.length) return;
  const pipelineIds = new Map<string, string>(
    (await m.query(`SELECT id, name FROM pipelines`)).map((p: { id: string; name: string }) => [p.name, p.id]),
  );
  const keepRules = new Set<string>();
  for (const [i, item] of ((doc.alert_rules ?? []) as Record<string, any>[]).entries()) {
    const path = `alert_rules[${i}]`;
    const { pipeline, channels: names, ...rest } = item ?? {};
    const pipelineId = pipeline === null || pipeline === undefined ? null : pipelineIds.get(pipeline);
    if (pipeline !== null && pipeline !== undefined && !pipelineId)
      errors.push({
        field: `${path}.pipeline`,
        message: `no pipeline named ${JSON.stringify(pipeline)} in the document or the instance`,
      });
    const channelIds = Array.isArray(names)
      ? names.map((n: unknown, j: number) => {
          const id = chIds.get(String(n));
          if (!id)
            errors.push({
              field: `${path}.channels[${j}]`,
              message: `no alert channel named ${JSON.stringify(n)} in the document or the instance`,
            });
          return id;
        })
      : names;
    if (errors.length) continue;
    const current = rules.find((r) => r.name === item?.name);
    let input;
    try {
      input = await parseRule(
        m,
        { ...rest, pipeline_id: pipelineId, channel_ids: channelIds },
        current ? 'replace' : 'create',
        current,
      );
    } catch (e) {
      if (e instanceof Problem && e.errors) {
        errors.push(...e.errors.map((x) => ({ ...x, field: `${path}.${x.field}` })));
        continue;
      }
      throw e;
    }
    keepRules.add(input.name);
    const changed = changedRuleFields(current, input);
    if (current && !changed.length) {
      changes.push({ action: 'unchanged', type: 'alert_rule', name: input.name, id: current.id });
      continue;
    }
    const s = returned<any>(
      current
        ? await m.query(
            `UPDATE alert_rules SET ${RULE_COLUMNS.map((c, k) => `${c} = $${k + 2}`).join(', ')}, ` +
              `version = version + 1, updated_at = now() WHERE id = $1 RETURNING *`,
            [current.id, ...ruleValues(input)],
          )
        : await m.query(
            `INSERT INTO alert_rules (${RULE_COLUMNS.join(', ')}) VALUES (${RULE_COLUMNS.map((_, k) => `$${k + 1}`).join(', ')}) RETURNING *`,
            ruleValues(input),
          ),
    );
    await audit(m, req, current ? 'update' : 'create', 'alert_rule', s, changed, 'import');
    changes.push({
      action: current ? 'update' : 'create',
      type: 'alert_rule',
      name: s.name,
      id: current ? s.id : undefined,
      fields: changed,
    });
  }
  if (errors.length || !prune) return;
  for (const r of rules.filter((x) => !keepRules.has(x.name))) {
    await m.query(`DELETE FROM alert_rules WHERE id = $1`, [r.id]);
    await audit(m, req, 'delete', 'alert_rule', r, [], 'import');
    changes.push({ action: 'delete', type: 'alert_rule', name: r.name, id: r.id });
  }
  for (const c of channels.filter((x) => !keepCh.has(x.name))) {
    await m.query(`DELETE FROM alert_channels WHERE id = $1`, [c.id]);
    await audit(m, req, 'delete', 'alert_channel', c, [], 'import');
    changes.push({ action: 'delete', type: 'alert_channel', name: c.name, id: c.id });
  }
}
