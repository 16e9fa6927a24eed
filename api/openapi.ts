import { Category, collections, connectorSpecs, ConnectorSpec, specsOf } from '../connectors';
import { pipelineSpec } from '../core/pipeline-spec';
import { envelopeFields } from '../core/object-fields';
import { tokenSpec } from '../core/token-spec';
import { fieldSchema, fieldsSchema, Schema, Shape, TEXT_NOTE, TEXT_PATTERN } from './json-schema';
import { defaultRole, Role, ROLE_EXTENSION, roles } from '../core/roles';
import { snapshotRequestFields, dlqSelectionSchema } from './routes/operations';
import { IF_MATCH } from './routes/common';
import { addAlertPaths } from './alerts/openapi';

export { fieldSchema, fieldsSchema };

/**
 * The OpenAPI 3.1 document of the API, served at /openapi.json. It is exact: request schemas say
 * what the API accepts, response schemas what it returns, and every status an operation can answer
 * is listed (test/fuzz/ runs schemathesis against it). Each operation declares the role it needs
 * (x-sluice-role); the request guard (request-guard.ts) reads roles, methods and query parameters
 * from this document, so an operation added here is protected and validated like the others.
 *
 * Status rules: 400 = the request does not match this document; 409 = it does, but conflicts with
 * what is stored (a name taken, an object in use or of another kind, a reference to nothing).
 */

const pascal = (s: string) => s.split(/[_-]/).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: Schema = {}) => ({ type: [type, 'null'], ...extra });
const str = { type: 'string' };
const bool = { type: 'boolean' };
const oneOfStrings = (...values: string[]) => ({ type: 'string', enum: values });
const array = (items: Schema) => ({ type: 'array', items });
const dateTime = { type: 'string', format: 'date-time' };
const uuid = { type: 'string', format: 'uuid' };
const int = (minimum?: number) => ({ type: 'integer', ...(minimum !== undefined ? { minimum } : {}) });
const obj = (properties: Schema, opts: { optional?: string[]; open?: boolean } = {}): Schema => ({
  type: 'object',
  additionalProperties: !!opts.open,
  required: Object.keys(properties).filter((k) => !opts.optional?.includes(k)),
  properties,
});
const list = (items: Schema) => obj({ items: { type: 'array', items }, total: int(0), page: int(1), page_size: int(1) });

const statusText: Record<number, string> = {
  400: 'The request does not match this document; errors[] names each field and what to send instead',
  401: 'Missing, invalid or expired bearer token',
  403: 'The token\'s role may not do this; the problem names the role needed',
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
  ...(status === 429 ? { headers: { 'Retry-After': { description: 'Seconds until this address may try again', schema: int(1) } } } : {}),
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const json = (schema: Schema, description = 'OK') => ({ description, content: { 'application/json': { schema } } });

const pageParams: Schema = {
  page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1, description: 'Page number, from 1.' },
  page_size: { type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Items per page.' },
};
const textParam = (description: string, maxLength = 200) => ({ type: 'string', pattern: TEXT_PATTERN, maxLength, description });
const boolParam = (description: string) => ({ type: 'boolean', default: false, description });
const dlqStatuses = ['pending', 'replay_requested', 'replayed', 'discarded', 'superseded'];

interface OperationDecl {
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

function operation(method: string, path: string, d: OperationDecl): Schema {
  const secured = d.security !== false;
  const role = d.role ?? defaultRole(method.toUpperCase());
  const params: Schema[] = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: uuid }));
  for (const [name, schema] of Object.entries(d.query ?? {})) {
    const { description, ...s } = schema as Schema;
    params.push({ name, in: 'query', required: false, description, schema: s });
  }
  if (d.ifMatch) {
    params.push({
      name: 'If-Match', in: 'header', required: false, schema: { type: 'string', pattern: IF_MATCH.source },
      description: 'The version you last read ("3", its ETag), several separated by commas, or *; 412 if the object changed since.',
    });
  }
  const errors = new Set<number>(d.errors ?? []);
  if (secured) [401, 403, 429].forEach((s) => errors.add(s));
  if (d.body || d.query || d.ifMatch) errors.add(400);
  if (params.some((p) => p.in === 'path')) errors.add(404);
  if (d.body) { errors.add(413); errors.add(415); }
  return {
    summary: d.summary,
    ...(secured ? { description: `Needs a token with role ${role} or higher.`, [ROLE_EXTENSION]: role } : { security: [] }),
    ...(params.length ? { parameters: params } : {}),
    ...(d.body ? { requestBody: { required: true, content: { 'application/json': { schema: d.body } } } } : {}),
    responses: { ...d.ok, ...Object.fromEntries([...errors].sort().map((s) => [s, problem(s)])) },
  };
}

/** Accepted and ignored in request bodies, so a client may PUT what it GET. */
const ignoredMeta = Object.fromEntries((['id', 'version', 'created_at', 'updated_at'] as const).map((k) => [k, {
  ...(k === 'version' ? { type: 'integer' } : { type: 'string', pattern: TEXT_PATTERN }), description: 'Ignored (read-only; sent back by clients that PUT what they GET).',
}]));
const meta = { id: uuid, version: int(1), created_at: dateTime, updated_at: dateTime };

/** The config of one kind, in a shape; in topology documents secrets may be {"$secret": variable}. */
function configSchema(spec: ConnectorSpec, shape: Shape, secretRefs = false): Schema {
  const s = fieldsSchema(spec.fields, shape) as { properties: Record<string, Schema> };
  if (secretRefs) {
    for (const [k, f] of Object.entries(spec.fields)) {
      if (!f.sensitive) continue;
      if (shape === 'response') s.properties[k] = ref('SecretRef');
      else s.properties[k] = { anyOf: [s.properties[k], ref('SecretRef')], description: f.description };
    }
    if (shape === 'response') (s as Schema).required = ((s as Schema).required as string[] ?? []).filter((k) => !spec.fields[k].sensitive);
  }
  return s as Schema;
}

function connectorSchemas(category: Category, schemas: Schema): void {
  const one = pascal(category);
  const variants = (prefix: string, suffix: string) => specsOf(category).map((spec) => `${prefix}${one}${pascal(spec.kind)}${suffix}`);
  const oneOf = (prefix: string, suffix: string) => ({
    oneOf: variants(prefix, suffix).map(ref),
    discriminator: { propertyName: 'kind', mapping: Object.fromEntries(specsOf(category).map((spec) => [spec.kind, `#/components/schemas/${prefix}${one}${pascal(spec.kind)}${suffix}`])) },
  });
  for (const spec of specsOf(category)) {
    const name = `${one}${pascal(spec.kind)}`;
    const kind = { type: 'string', const: spec.kind };
    const described = { title: spec.title, description: spec.description };
    schemas[`${name}Config`] = { ...configSchema(spec, 'response'), ...described };
    schemas[name] = obj({
      ...meta, name: fieldSchema(envelopeFields.name, 'response'), kind, config: ref(`${name}Config`), tags: fieldSchema(envelopeFields.tags, 'response'),
      secrets_set: { ...array(str), description: 'The sensitive fields that have a stored value (never their values).' },
    });
    schemas[`${name}Input`] = obj({
      name: fieldSchema(envelopeFields.name), kind, config: { ...configSchema(spec, 'request'), ...described }, tags: fieldSchema(envelopeFields.tags), ...ignoredMeta,
    }, { optional: ['tags', ...Object.keys(ignoredMeta)] });
    schemas[`${name}Patch`] = obj({
      name: fieldSchema(envelopeFields.name, 'patch'), kind, config: configSchema(spec, 'patch'), tags: fieldSchema(envelopeFields.tags, 'patch'), ...ignoredMeta,
    }, { optional: ['name', 'kind', 'config', 'tags', ...Object.keys(ignoredMeta)] });
    schemas[`Topology${name}`] = obj({ name: fieldSchema(envelopeFields.name, 'response'), kind, config: configSchema(spec, 'response', true), tags: fieldSchema(envelopeFields.tags, 'response') });
    schemas[`Topology${name}Input`] = obj({ name: fieldSchema(envelopeFields.name), kind, config: configSchema(spec, 'request', true), tags: fieldSchema(envelopeFields.tags) }, { optional: ['tags'] });
  }
  schemas[one] = oneOf('', '');
  schemas[`${one}Input`] = oneOf('', 'Input');
  // A patch need not name its kind: it must fit one kind (the object's own, or it is a 409).
  schemas[`${one}Patch`] = { anyOf: variants('', 'Patch').map(ref), description: 'Fields to change; config is merged into the stored one and null resets a field to its default (or clears a secret).' };
  schemas[`Topology${one}`] = oneOf('Topology', '');
  schemas[`Topology${one}Input`] = oneOf('Topology', 'Input');
}

function pipelineSchemas(schemas: Schema): void {
  const fields = { ...envelopeFields, ...pipelineSpec.fields };
  const described = { title: pipelineSpec.title, description: pipelineSpec.description };
  const resp = fieldsSchema(fields, 'response') as { properties: Schema; required: string[] };
  schemas.Pipeline = { ...resp, properties: { ...meta, ...resp.properties }, required: [...Object.keys(meta), ...resp.required], ...described };
  const input = fieldsSchema(fields, 'request') as { properties: Schema };
  schemas.PipelineInput = { ...input, properties: { ...input.properties, ...ignoredMeta }, ...described };
  const patch = fieldsSchema(fields, 'patch') as { properties: Schema };
  schemas.PipelinePatch = { ...patch, properties: { ...patch.properties, ...ignoredMeta }, description: 'Fields to change; delivery is merged into the stored one.' };
  // In topology documents pipelines name their source, destination and transforms.
  const { source_id: _s, destination_id: _d, transform_ids: _t, ...rest } = fields;
  const name = { type: 'string', minLength: 1, pattern: TEXT_PATTERN, description: 'Name of an object in the document or the instance.' };
  const tResp = fieldsSchema(rest, 'response') as { properties: Schema; required: string[] };
  schemas.TopologyPipeline = obj({ ...tResp.properties, source: str, destination: str, transforms: array(str) });
  const tIn = fieldsSchema(rest, 'request') as { properties: Schema };
  schemas.TopologyPipelineInput = obj(
    { ...tIn.properties, source: name, destination: name, transforms: nullable('array', { items: name }) },
    { optional: Object.keys(tIn.properties).filter((k) => k !== 'name').concat('transforms') },
  );
}

function dataPlaneSchemas(schemas: Schema): void {
  const worker = (more: Schema) => obj({ state: str, reason: nullable('string'), ...more });
  schemas.PipelineStatus = obj({
    id: uuid, name: str, state: oneOfStrings('Starting', 'Snapshotting', 'Active', 'Paused', 'Broken'),
    reason: nullable('string'), since: dateTime, worker_id: nullable('string'),
    source: worker({ position: nullable('string'), last_event_at: nullable('string'), replication_lag_bytes: nullable('integer') }),
    sink: worker({ lag: nullable('integer'), last_write_at: nullable('string') }),
    dlq: obj({ count: int(0) }),
  });
  const progress = obj({ rows: int(0), total_estimate: nullable('integer'), done: bool, gap_deletes: int(0), error: str }, { optional: ['gap_deletes', 'error'] });
  schemas.Snapshot = obj({
    id: uuid, pipeline_id: uuid, status: oneOfStrings('pending', 'running', 'done', 'failed'), mode: oneOfStrings('incremental', 'blocking'),
    filter: nullable('string'), reason: str, tables: array(str),
    progress: { type: 'object', additionalProperties: progress }, rows_done: int(0), rows_total: int(0), percent: { type: 'integer', minimum: 0, maximum: 100 },
    error: nullable('string'), created_at: dateTime, finished_at: nullable('string', { format: 'date-time' }),
  });
  schemas.SnapshotInput = fieldsSchema(snapshotRequestFields, 'request');
  schemas.DlqRecord = obj({
    id: int(1), status: { type: 'string', enum: dlqStatuses }, topic: str, partition: int(0), offset: int(0), key: nullable('string'),
    error_class: str, error_message: str, attempts: int(0), record: { description: 'The record as consumed (JSON), or null.' }, created_at: dateTime,
  });
  schemas.DlqSelection = dlqSelectionSchema;
  const done = (key: string) => obj({ [key]: int(0), ids: array(int(1)) });
  schemas.DlqReplayResult = done('replay_requested');
  schemas.DlqDiscardResult = done('discarded');
  schemas.Verify = obj({
    pipeline_id: uuid, pass: bool, checked_at: dateTime,
    checks: { type: 'array', items: obj({ check: oneOfStrings('state', 'lag_falling', 'dlq_empty', 'freshness', 'row_count', 'databases_reachable'), pass: bool, detail: str, table: str }, { optional: ['table'] }) },
  });
  const partition = obj({ topic: str, partition: int(0), committed_offset: { type: 'integer' }, end_offset: int(0), lag: int(0) });
  schemas.ConsumerGroups = obj({ items: { type: 'array', items: obj({ group: str, pipeline_id: uuid, pipeline: str, state: str, members: int(0), partitions: array(partition), lag: int(0) }) } });
}

export function buildOpenApi(): Schema {
  const schemas: Schema = {
    Problem: {
      type: 'object', required: ['type', 'title', 'status', 'detail'],
      properties: {
        type: str, title: str, status: { type: 'integer' }, detail: str,
        errors: { type: 'array', items: obj({ field: str, message: str }) },
      },
    },
    SecretRef: { ...obj({ $secret: { type: 'string', minLength: 1, pattern: TEXT_PATTERN } }), description: 'A secret field in a topology document: the name of an entry of `secrets` (or, on import, keep the stored value).' },
  };
  const paths: Record<string, Schema> = {};
  const add = (path: string, method: string, d: OperationDecl) => { (paths[path] ??= {})[method] = operation(method, path, d); };

  for (const category of ['source', 'destination', 'transform'] as Category[]) {
    connectorSchemas(category, schemas);
    const one = pascal(category);
    const coll = `/v1/${collections[category]}`;
    schemas[`${one}List`] = list(ref(one));
    const query = { ...pageParams, kind: { type: 'string', enum: specsOf(category).map((s) => s.kind), description: `Only ${collections[category]} of this kind.` }, name: textParam('Only the object with exactly this name.') };
    add(coll, 'get', { summary: `List ${collections[category]}`, query, ok: { 200: json(ref(`${one}List`)) } });
    add(coll, 'post', { summary: `Create a ${category}`, body: ref(`${one}Input`), ok: { 201: json(ref(one), 'Created') }, errors: [409] });
    add(`${coll}/{id}`, 'get', { summary: `Get a ${category}`, ok: { 200: json(ref(one)) } });
    add(`${coll}/{id}`, 'put', { summary: `Replace a ${category} (omitted secret fields keep their value)`, ifMatch: true, body: ref(`${one}Input`), ok: { 200: json(ref(one)) }, errors: [409, 412] });
    add(`${coll}/{id}`, 'patch', { summary: `Change some fields of a ${category} (config is merged; null resets a field to its default)`, ifMatch: true, body: ref(`${one}Patch`), ok: { 200: json(ref(one)) }, errors: [409, 412] });
    add(`${coll}/{id}`, 'delete', { summary: `Delete a ${category} (409 while a pipeline uses it)`, ifMatch: true, ok: { 204: { description: 'Deleted' } }, errors: [409, 412] });
  }

  pipelineSchemas(schemas);
  schemas.PipelineList = list(ref('Pipeline'));
  add('/v1/pipelines', 'get', { summary: 'List pipelines', query: { ...pageParams, name: textParam('Only the pipeline with exactly this name.') }, ok: { 200: json(ref('PipelineList')) } });
  add('/v1/pipelines', 'post', { summary: 'Create a pipeline', body: ref('PipelineInput'), ok: { 201: json(ref('Pipeline'), 'Created') }, errors: [409] });
  add('/v1/pipelines/{id}', 'get', { summary: 'Get a pipeline', ok: { 200: json(ref('Pipeline')) } });
  add('/v1/pipelines/{id}', 'put', { summary: 'Replace a pipeline', ifMatch: true, body: ref('PipelineInput'), ok: { 200: json(ref('Pipeline')) }, errors: [409, 412] });
  add('/v1/pipelines/{id}', 'patch', { summary: 'Change some fields of a pipeline', ifMatch: true, body: ref('PipelinePatch'), ok: { 200: json(ref('Pipeline')) }, errors: [409, 412] });
  add('/v1/pipelines/{id}', 'delete', { summary: 'Delete a pipeline', ifMatch: true, ok: { 204: { description: 'Deleted' } }, errors: [412] });
  for (const op of ['pause', 'resume']) {
    add(`/v1/pipelines/{id}/${op}`, 'post', { summary: `${pascal(op)} a pipeline (sets desired_state)`, role: 'operator', ifMatch: true, ok: { 200: json(ref('Pipeline')) }, errors: [412] });
  }

  // Data-plane operations (api/routes/operations.ts).
  dataPlaneSchemas(schemas);
  add('/v1/pipelines/{id}/status', 'get', { summary: 'Pipeline state (Starting|Snapshotting|Active|Paused|Broken), source, sink and DLQ', ok: { 200: json(ref('PipelineStatus')) } });
  add('/v1/pipelines/{id}/restart', 'post', { summary: 'Restart the pipeline runner', role: 'operator', ok: { 202: json(obj({ status: { type: 'string', const: 'restart requested' } }), 'Accepted') } });
  add('/v1/pipelines/{id}/snapshots', 'post', { summary: 'Start an incremental (watermark) or blocking snapshot', role: 'operator', body: ref('SnapshotInput'), ok: { 202: json(ref('Snapshot'), 'Accepted') }, errors: [409] });
  add('/v1/pipelines/{id}/snapshots', 'get', { summary: 'The pipeline\'s latest 100 snapshots', ok: { 200: json(obj({ items: array(ref('Snapshot')), total: int(0) })) } });
  add('/v1/pipelines/{id}/snapshots/{sid}', 'get', { summary: 'Snapshot progress', ok: { 200: json(ref('Snapshot')) } });
  const dlqStatus = { type: 'string', pattern: `^(all|(${dlqStatuses.join('|')})(,(${dlqStatuses.join('|')}))*)$`, default: 'pending', description: `Records in these states (comma-separated: ${dlqStatuses.join(', ')}), or all.` };
  add('/v1/pipelines/{id}/dlq', 'get', { summary: 'Dead-letter records', query: { ...pageParams, status: dlqStatus }, ok: { 200: json(list(ref('DlqRecord'))) } });
  add('/v1/pipelines/{id}/dlq/replay', 'post', { summary: 'Replay pending DLQ records through the current transforms and destination', role: 'operator', body: ref('DlqSelection'), ok: { 202: json(ref('DlqReplayResult'), 'Accepted') } });
  add('/v1/pipelines/{id}/dlq/discard', 'post', { summary: 'Discard pending DLQ records', role: 'operator', body: ref('DlqSelection'), ok: { 200: json(ref('DlqDiscardResult')) } });
  add('/v1/pipelines/{id}/verify', 'get', { summary: 'Post-outage checklist: state, lag falling, freshness per table, DLQ count, row counts, each pass/fail (reads the source and destination databases)', role: 'operator', ok: { 200: json(ref('Verify')) } });
  add('/v1/pipelines/{id}/schema', 'get', { summary: 'Schema history per source table: current columns and types, every change with the source position at which it took effect, held changes', ok: { 200: json({ type: 'object' }) } });
  add('/v1/pipelines/{id}/schema/ack', 'post', {
    summary: 'Release tables held by a schema change (an incompatible type change needs a resolution)', role: 'operator',
    body: obj({ table: { type: 'string', pattern: '^[^.\\s]+\\.[^.\\s]+$' }, resolution: oneOfStrings('resnapshot', 'new_column') }, { optional: ['table', 'resolution'] }),
    ok: { 200: json(obj({ acknowledged: array(obj({ table: str, version: int(1), resolution: nullable('string') })) })) }, errors: [409],
  });
  add('/v1/consumer-groups', 'get', { summary: 'Consumer groups: pipeline, state, lag per partition and total', ok: { 200: json(ref('ConsumerGroups')) }, errors: [503] });

  schemas.TopologyDocument = obj({
    format: { type: 'string', const: 'sluice/v1' },
    sources: array(ref('TopologySource')), destinations: array(ref('TopologyDestination')),
    transforms: array(ref('TopologyTransform')), pipelines: array(ref('TopologyPipeline')),
  });
  schemas.TopologyImport = obj({
    format: { type: 'string', const: 'sluice/v1' },
    sources: array(ref('TopologySourceInput')), destinations: array(ref('TopologyDestinationInput')),
    transforms: array(ref('TopologyTransformInput')), pipelines: array(ref('TopologyPipelineInput')),
    secrets: { type: 'object', additionalProperties: { type: 'string', pattern: TEXT_PATTERN }, description: 'Values of the {"$secret": name} placeholders.' },
  }, { optional: ['sources', 'destinations', 'transforms', 'pipelines', 'secrets'] });
  const change = obj({ action: oneOfStrings('create', 'update', 'delete', 'unchanged'), type: oneOfStrings('source', 'destination', 'transform', 'pipeline'), name: str, id: uuid, fields: array(str) }, { optional: ['id', 'fields'] });
  schemas.ImportResult = obj({ dry_run: bool, changes: array(change), summary: obj({ create: int(0), update: int(0), delete: int(0), unchanged: int(0) }) });
  add('/v1/export', 'get', {
    summary: 'Export the whole topology (secrets become variables)',
    query: { format: { type: 'string', enum: ['json', 'hcl'], default: 'json', description: 'json (a topology document) or hcl (Terraform).' }, import_blocks: boolParam('HCL only: add import {} blocks so Terraform adopts the existing objects.') },
    ok: { 200: { description: 'The topology', content: { 'application/json': { schema: ref('TopologyDocument') }, 'text/plain': { schema: str } } } },
  });
  add('/v1/import', 'post', {
    summary: 'Import a topology document, idempotent by name',
    query: { dry_run: boolParam('Only plan: change nothing.'), prune: boolParam('Delete objects the document does not name.') },
    body: ref('TopologyImport'), ok: { 200: json(ref('ImportResult'), 'The plan (dry run) or what was done') }, errors: [409],
  });
  schemas.AuditEntry = obj({
    id: int(1), at: dateTime, actor: str, origin: oneOfStrings('api', 'terraform', 'import', 'cli', 'console'), remote_addr: nullable('string'),
    action: str, object_type: str, object_id: nullable('string', { format: 'uuid' }), object_name: nullable('string'), changed_fields: array(str),
  });
  add('/v1/audit', 'get', { summary: 'Who changed what, when and from where (newest first)', query: { ...pageParams, object_id: { ...uuid, description: 'Only changes of this object.' } }, ok: { 200: json(list(ref('AuditEntry'))) } });

  const tokenOut = {
    id: uuid, name: str, role: { type: 'string', enum: [...roles] }, created_at: dateTime, expires_in: nullable('integer', { minimum: 60 }),
    expires_at: nullable('string', { format: 'date-time' }), last_used_at: nullable('string', { format: 'date-time' }),
  };
  schemas.Token = { ...obj(tokenOut), title: tokenSpec.title, description: tokenSpec.description };
  schemas.TokenCreated = obj({ ...tokenOut, token: { type: 'string', description: 'The secret bearer token. Shown only in this response: store it now.' } });
  schemas.TokenInput = fieldsSchema(tokenSpec.fields, 'request');
  add('/v1/tokens', 'get', { summary: 'List API tokens (never their secrets)', role: 'admin', query: pageParams, ok: { 200: json(list(ref('Token'))) } });
  add('/v1/tokens', 'post', { summary: 'Create an API token; the response carries its secret, once', body: ref('TokenInput'), ok: { 201: json(ref('TokenCreated'), 'Created') }, errors: [409] });
  add('/v1/tokens/{id}', 'get', { summary: 'Get an API token (never its secret)', role: 'admin', ok: { 200: json(ref('Token')) } });
  add('/v1/tokens/{id}', 'delete', { summary: 'Revoke an API token: it stops working at once (not the token of this request)', ok: { 204: { description: 'Revoked' } }, errors: [409] });

  // The console's and alerts' routes (api/alerts/openapi.ts).
  addAlertPaths(paths, schemas);
  add('/healthz', 'get', { summary: 'Process up', security: false, ok: { 200: json(obj({ status: { type: 'string', const: 'ok' } })) } });
  const ready = obj({ status: oneOfStrings('ready', 'not ready'), detail: str, checks: { type: 'object', additionalProperties: obj({ ok: bool, error: str }, { optional: ['error'] }) } }, { optional: ['detail'] });
  add('/readyz', 'get', { summary: 'Control DB, Redis and Kafka reachable', security: false, ok: { 200: json(ready), 503: json(ready, 'Names what is not reachable') } });
  add('/metrics', 'get', { summary: 'Prometheus metrics', security: false, ok: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: str } } } } });

  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice control plane', version: '1',
      description: 'Sources, destinations, transforms and pipelines of a Sluice CDC installation. Every /v1 route needs Authorization: Bearer <token>; ' +
        `each operation names the role it needs (${roles.join(' < ')}) in ${ROLE_EXTENSION}. Errors are application/problem+json. ${TEXT_NOTE} ` +
        'X-Sluice-Origin (api, terraform, import, cli, console) tells the audit log where a change came from.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas },
    paths,
    'x-connector-kinds': connectorSpecs.map((s) => ({ category: s.category, kind: s.kind })),
  };
}
