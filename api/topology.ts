import type { Request } from 'express';
import { DataSource, EntityManager } from 'typeorm';
import { Category, collections, findSpec, resourceType, secretFields } from '../connectors';
import { ConnectorEntity } from './entities/connector.entity';
import { PipelineEntity } from './entities/pipeline.entity';
import {
  applyConnector,
  applyPipeline,
  isUniqueViolation,
  parseConnector,
  parsePipeline,
  pipelineFieldNames,
} from './objects';
import { audit } from './audit';
import { block, Expr, HclValue, label, uniqueLabels } from './hcl';
import { providerSource } from '../core/names';
import { conflict, invalid, Problem } from './problem';
import { SecretBox } from '../core/secrets';
import type { FieldError } from './validation';
import { secretRef } from './secret-ref';
import { alertsHcl, exportAlerts, importAlerts, TopologyAlertChannel, TopologyAlertRule } from './alerts/topology';

/**
 * The whole topology as a document: objects by name, references by name, secrets as
 * {"$secret": "<variable>"}. Export -> import into an empty instance -> export gives the same document.
 */
export interface TopologyConnector {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  tags: Record<string, string>;
}
/** A pipeline: its declared fields (core/pipeline-spec.ts), with the references by name (`source`, `destination`, `transforms`). */
export interface TopologyPipeline {
  name: string;
  source: string;
  destination: string;
  transforms: string[];
  tags: Record<string, string>;
  [field: string]: unknown;
}

/** The reference fields of a pipeline and their names in a topology document. */
const pipelineRefs: Record<string, 'source' | 'destination' | 'transforms'> = {
  source_id: 'source',
  destination_id: 'destination',
  transform_ids: 'transforms',
};
export interface TopologyDocument {
  format: 'sluice/v1';
  sources: TopologyConnector[];
  destinations: TopologyConnector[];
  transforms: TopologyConnector[];
  pipelines: TopologyPipeline[];
  alert_channels: TopologyAlertChannel[];
  alert_rules: TopologyAlertRule[];
}

const categories: Category[] = ['source', 'destination', 'transform'];
const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Variable holding a secret in exports: <category>_<name label>_<field>, unique per topology. */
function secretVariables(connectors: ConnectorEntity[]): Map<string, string> {
  const vars = new Map<string, string>();
  const taken = new Set<string>();
  for (const c of [...connectors].sort(byName)) {
    const spec = findSpec(c.category, c.kind);
    for (const f of spec ? secretFields(spec) : []) {
      if (!(f in (c.secrets ?? {}))) continue;
      const base = `${c.category}_${label(c.name)}_${f}`;
      let v = base;
      for (let i = 2; taken.has(v); i++) v = `${base}_${i}`;
      taken.add(v);
      vars.set(`${c.id}/${f}`, v);
    }
  }
  return vars;
}

/** Config in declaration order (jsonb stores keys in its own order), so exports read like the docs. */
function orderedConfig<S>(c: ConnectorEntity, secret: (field: string) => S): Record<string, unknown | S> {
  const spec = findSpec(c.category, c.kind);
  const keys = spec ? Object.keys(spec.fields) : [...Object.keys(c.config), ...Object.keys(c.secrets ?? {})];
  const out: Record<string, unknown | S> = {};
  for (const k of keys) {
    if (k in (c.secrets ?? {})) out[k] = secret(k);
    else if (k in c.config) out[k] = c.config[k];
  }
  return out;
}

async function loadAll(m: EntityManager) {
  const connectors = await m.find(ConnectorEntity, { order: { name: 'ASC' } });
  const pipelines = await m.find(PipelineEntity, { order: { name: 'ASC' } });
  return { connectors, pipelines };
}

export async function exportDocument(ds: DataSource): Promise<TopologyDocument> {
  const { connectors, pipelines } = await loadAll(ds.manager);
  const vars = secretVariables(connectors);
  const nameOf = new Map(connectors.map((c) => [c.id, c.name]));
  const doc: TopologyDocument = {
    format: 'sluice/v1',
    sources: [],
    destinations: [],
    transforms: [],
    pipelines: [],
    alert_channels: [],
    alert_rules: [],
  };
  for (const c of [...connectors].sort(byName)) {
    const config = orderedConfig(c, (f) => ({ $secret: vars.get(`${c.id}/${f}`) }));
    doc[collections[c.category] as 'sources'].push({ name: c.name, kind: c.kind, config, tags: c.tags });
  }
  for (const p of [...pipelines].sort(byName)) {
    const entry: Record<string, unknown> = {};
    for (const f of pipelineFieldNames) {
      const v = p[f] as unknown;
      if (pipelineRefs[f])
        entry[pipelineRefs[f]] = Array.isArray(v) ? v.map((id) => nameOf.get(id)) : nameOf.get(v as string);
      else entry[f] = v;
    }
    doc.pipelines.push(entry as TopologyPipeline);
  }
  return Object.assign(doc, await exportAlerts(ds.manager));
}

/** The same topology as Terraform: resources of design.md, references as expressions, secrets as variables. */
export async function exportHcl(ds: DataSource, opts: { importBlocks?: boolean } = {}): Promise<string> {
  const { connectors, pipelines } = await loadAll(ds.manager);
  const vars = secretVariables(connectors);
  // Labels come from names, unique per resource type.
  const addr = new Map<string, string>();
  const takenByType = new Map<string, Set<string>>();
  for (const c of [...connectors].sort(byName)) {
    const type = resourceType(c);
    const taken = takenByType.get(type) ?? new Set();
    takenByType.set(type, taken);
    addr.set(c.id, `${type}.${uniqueLabels([c.name], taken).get(c.name)}`);
  }
  const pipelineLabels = uniqueLabels(pipelines.map((p) => p.name));

  const out: string[] = [
    '# Exported by Sluice. Secrets are variables: set them with TF_VAR_<name> or a .tfvars file kept out of git.\n',
    `terraform {\n  required_providers {\n    sluice = {\n      source = "${providerSource}"\n    }\n  }\n}\n`,
    'provider "sluice" {}\n',
  ];
  for (const v of [...vars.values()].sort())
    out.push(`variable "${v}" {\n  type      = string\n  sensitive = true\n}\n`);
  for (const category of categories) {
    for (const c of connectors.filter((x) => x.category === category).sort(byName)) {
      const attrs: Record<string, HclValue | undefined> = { name: c.name };
      for (const [k, v] of Object.entries(orderedConfig(c, (f) => new Expr(`var.${vars.get(`${c.id}/${f}`)}`))))
        attrs[k] = v as HclValue;
      if (Object.keys(c.tags).length) attrs.tags = c.tags;
      const [type, name] = addr.get(c.id)!.split('.');
      out.push(block(`resource "${type}" "${name}"`, attrs));
    }
  }
  for (const p of [...pipelines].sort(byName)) {
    const attrs: Record<string, HclValue | undefined> = {};
    for (const f of pipelineFieldNames) {
      const v = p[f] as unknown;
      if (pipelineRefs[f])
        attrs[f] = Array.isArray(v)
          ? v.map((id) => new Expr(`${addr.get(id)}.id`))
          : new Expr(`${addr.get(v as string)}.id`);
      else if (f === 'tags') attrs[f] = Object.keys(p.tags).length ? p.tags : undefined;
      else attrs[f] = (v ?? undefined) as HclValue | undefined;
    }
    out.push(block(`resource "sluice_pipeline" "${pipelineLabels.get(p.name)}"`, attrs));
  }
  out.push(
    ...(await alertsHcl(
      ds.manager,
      new Map(pipelines.map((p) => [p.id, `sluice_pipeline.${pipelineLabels.get(p.name)}`])),
      !!opts.importBlocks,
    )),
  );
  if (opts.importBlocks) {
    for (const c of connectors) out.push(`import {\n  to = ${addr.get(c.id)}\n  id = "${c.id}"\n}\n`);
    for (const p of pipelines)
      out.push(`import {\n  to = sluice_pipeline.${pipelineLabels.get(p.name)}\n  id = "${p.id}"\n}\n`);
  }
  return out.join('\n');
}

export interface PlanEntry {
  action: 'create' | 'update' | 'delete' | 'unchanged';
  type: Category | 'pipeline' | 'alert_channel' | 'alert_rule';
  name: string;
  id?: string;
  fields?: string[];
}
export interface ImportResult {
  dry_run: boolean;
  changes: PlanEntry[];
  summary: Record<PlanEntry['action'], number>;
}

class Rollback extends Error {}

/**
 * Applies a document, idempotent by name. The dry run executes the very same steps in a
 * transaction that is rolled back, so its plan is exactly what a real run would do.
 */
export async function importDocument(
  ds: DataSource,
  box: SecretBox,
  req: Request,
  raw: unknown,
  opts: { dryRun: boolean; prune: boolean },
): Promise<ImportResult> {
  const doc = checkShape(raw);
  const secretValues = (doc.secrets ?? {}) as Record<string, unknown>;
  const changes: PlanEntry[] = [];
  const run = async (m: EntityManager) => {
    // 400 when the document does not match the OpenAPI document, else 409 (conflicts with the instance).
    const errors: FieldError[] = [];
    let malformed = false;
    const collect = (e: unknown, path: string) => {
      if (!(e instanceof Problem && e.errors)) throw e;
      if (e.status === 400) malformed = true;
      errors.push(...e.errors.map((x) => ({ ...x, field: x.field ? `${path}.${x.field}` : path })));
    };
    const fail = () => {
      throw malformed ? invalid(errors) : conflict(errors);
    };
    const existing = await m.find(ConnectorEntity, { lock: { mode: 'pessimistic_write' } });
    const ids = new Map<string, string>(); // `${category}/${name}` -> id
    for (const category of categories) {
      const list = doc[collections[category] as 'sources'] as unknown[];
      for (const [i, item] of list.entries()) {
        const path = `${collections[category]}[${i}]`;
        const obj = item as Record<string, unknown>;
        const extra =
          obj && typeof obj === 'object'
            ? Object.keys(obj).filter((k) => !['name', 'kind', 'config', 'tags'].includes(k))
            : [];
        if (extra.length) {
          collect(
            invalid(
              extra.map((k) => ({ field: k, message: `unknown field ${k}: allowed are name, kind, config, tags` })),
            ),
            path,
          );
          continue;
        }
        const current = existing.find((e) => e.category === category && e.name === obj?.name);
        // Replace {"$secret": var} in secret fields by its value; without one an existing secret is kept.
        const spec = obj && typeof obj.kind === 'string' ? findSpec(category, obj.kind) : undefined;
        const config =
          obj && typeof obj.config === 'object' && obj.config !== null && !Array.isArray(obj.config)
            ? { ...(obj.config as Record<string, unknown>) }
            : obj?.config;
        if (spec && config && typeof config === 'object') {
          for (const k of secretFields(spec)) {
            const v = (config as Record<string, unknown>)[k];
            const varName = secretRef(v);
            if (varName === undefined) continue;
            if (typeof secretValues[varName] === 'string')
              (config as Record<string, unknown>)[k] = secretValues[varName];
            else if (current?.secrets?.[k]) delete (config as Record<string, unknown>)[k];
            else {
              errors.push({
                field: `secrets.${varName}`,
                message: `no value for secret ${varName} (${path}.config.${k}): pass it in "secrets"`,
              });
              delete (config as Record<string, unknown>)[k];
            }
          }
        }
        let parsed;
        try {
          parsed = parseConnector(category, { ...obj, config }, current ? 'replace' : 'create', current);
        } catch (e) {
          collect(e, path);
          continue;
        }
        const entity = current ?? m.create(ConnectorEntity, { category });
        const changed = applyConnector(entity, parsed.input, box);
        if (current && !changed.length) {
          changes.push({ action: 'unchanged', type: category, name: entity.name, id: entity.id });
        } else {
          const saved = await m.save(entity);
          await audit(m, req, current ? 'update' : 'create', category, saved, changed, 'import');
          changes.push({
            action: current ? 'update' : 'create',
            type: category,
            name: saved.name,
            id: current ? saved.id : undefined,
            fields: changed,
          });
        }
        ids.set(`${category}/${entity.name}`, entity.id);
      }
    }
    if (errors.length) fail();

    const pipelines = await m.find(PipelineEntity, { lock: { mode: 'pessimistic_write' } });
    const keep = new Set<string>();
    for (const [i, item] of (doc.pipelines as unknown[]).entries()) {
      const path = `pipelines[${i}]`;
      if (!item || typeof item !== 'object' || Array.isArray(item)) {
        collect(invalid([{ field: '', message: 'each pipeline must be a JSON object' }]), path);
        continue;
      }
      const p = item as Record<string, unknown>;
      const { source, destination, transforms, ...rest } = p;
      const shape: FieldError[] = [];
      for (const k of ['source_id', 'destination_id', 'transform_ids'])
        if (k in rest)
          shape.push({
            field: k,
            message: `unknown field ${k}: a topology document names the ${k.replace(/_ids?$/, '')} instead (${k.replace(/_id$/, '').replace(/_ids$/, 's')})`,
          });
      for (const [k, v] of [
        ['source', source],
        ['destination', destination],
      ] as const)
        if (typeof v !== 'string' || !v) shape.push({ field: k, message: `${k} must be the name of a ${k}` });
      if (
        transforms !== undefined &&
        transforms !== null &&
        !(Array.isArray(transforms) && transforms.every((t) => typeof t === 'string' && t))
      )
        shape.push({ field: 'transforms', message: 'transforms must be a list of transform names' });
      if (shape.length) {
        collect(invalid(shape), path);
        continue;
      }
      const ref = (cat: Category, n: unknown, field: string) => {
        const inDoc = ids.get(`${cat}/${n}`);
        const id = inDoc ?? existing.find((e) => e.category === cat && e.name === n)?.id;
        if (!id)
          errors.push({
            field: `${path}.${field}`,
            message: `no ${cat} named ${JSON.stringify(n)} in the document or the instance`,
          });
        else if (!inDoc && opts.prune)
          errors.push({
            field: `${path}.${field}`,
            message: `${cat} ${JSON.stringify(n)} is not in the document, and prune=true would delete it: add it to the document`,
          });
        return id ?? '00000000-0000-0000-0000-000000000000';
      };
      const body = {
        ...rest,
        source_id: ref('source', source, 'source'),
        destination_id: ref('destination', destination, 'destination'),
        transform_ids: Array.isArray(transforms)
          ? transforms.map((t, j) => ref('transform', t, `transforms[${j}]`))
          : [],
      };
      if (errors.length) continue;
      const current = pipelines.find((x) => x.name === p.name);
      let input;
      try {
        input = await parsePipeline(m, body, current ? 'replace' : 'create', current);
      } catch (e) {
        collect(e, path);
        continue;
      }
      if (current && current.source_id !== input.source_id) {
        // A new source means new offsets: replace the pipeline, as Terraform would.
        await m.delete(PipelineEntity, { id: current.id });
        await audit(m, req, 'delete', 'pipeline', current, [], 'import');
        changes.push({ action: 'delete', type: 'pipeline', name: current.name, id: current.id });
      }
      const reuse = current && current.source_id === input.source_id ? current : undefined;
      const entity = reuse ?? m.create(PipelineEntity, {});
      const changed = applyPipeline(entity, input);
      if (reuse && !changed.length) {
        changes.push({ action: 'unchanged', type: 'pipeline', name: entity.name, id: entity.id });
      } else {
        const saved = await m.save(entity);
        await audit(m, req, reuse ? 'update' : 'create', 'pipeline', saved, changed, 'import');
        changes.push({
          action: reuse ? 'update' : 'create',
          type: 'pipeline',
          name: saved.name,
          id: reuse ? saved.id : undefined,
          fields: changed,
        });
      }
      keep.add(input.name);
    }
    if (errors.length) fail();
    await importAlerts(m, req, box, doc, secretValues, opts.prune, changes, errors);
    if (errors.length) fail();

    if (opts.prune) {
      for (const p of pipelines.filter((x) => !keep.has(x.name))) {
        await m.delete(PipelineEntity, { id: p.id });
        await audit(m, req, 'delete', 'pipeline', p, [], 'import');
        changes.push({ action: 'delete', type: 'pipeline', name: p.name, id: p.id });
      }
      for (const c of existing.filter((e) => !ids.has(`${e.category}/${e.name}`))) {
        await m.delete(ConnectorEntity, { id: c.id });
        await audit(m, req, 'delete', c.category, c, [], 'import');
        changes.push({ action: 'delete', type: c.category, name: c.name, id: c.id });
      }
    }
    if (opts.dryRun) throw new Rollback();
  };
  try {
    await ds.transaction(run);
  } catch (e) {
    if (!(e instanceof Rollback)) {
      if (isUniqueViolation(e))
        throw new Problem(
          409,
          'Conflict',
          'The document names an object twice in one collection: names must be unique.',
        );
      throw e;
    }
  }
  const summary = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const c of changes) summary[c.action]++;
  return { dry_run: opts.dryRun, changes, summary };
}

function checkShape(raw: unknown): Record<string, unknown> {
  const errors: FieldError[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw invalid([
      {
        field: '(body)',
        message: 'the import body must be a topology document (as GET /v1/export?format=json returns)',
      },
    ]);
  const doc = raw as Record<string, unknown>;
  if (doc.format !== 'sluice/v1') errors.push({ field: 'format', message: 'format must be "sluice/v1"' });
  for (const k of Object.keys(doc)) {
    if (
      ![
        'format',
        'sources',
        'destinations',
        'transforms',
        'pipelines',
        'alert_channels',
        'alert_rules',
        'secrets',
      ].includes(k)
    )
      errors.push({
        field: k,
        message: `unknown field ${k}: allowed are format, sources, destinations, transforms, pipelines, alert_channels, alert_rules, secrets`,
      });
  }
  for (const k of ['sources', 'destinations', 'transforms', 'pipelines', 'alert_channels', 'alert_rules']) {
    if (doc[k] === undefined) doc[k] = [];
    else if (!Array.isArray(doc[k])) errors.push({ field: k, message: `${k} must be a list` });
  }
  if (
    doc.secrets !== undefined &&
    (doc.secrets === null ||
      typeof doc.secrets !== 'object' ||
      Array.isArray(doc.secrets) ||
      Object.values(doc.secrets).some((v) => typeof v !== 'string'))
  ) {
    errors.push({ field: 'secrets', message: 'secrets must be an object of variable name to value (a string)' });
  }
  if (errors.length) throw invalid(errors);
  return doc;
}
