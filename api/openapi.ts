import { Category, collections, connectorSpecs, ConnectorSpec, specsOf } from '../connectors';
import { QUALIFIED_TABLE_RE } from '../core/patterns';
import { pipelineSpec } from '../core/pipeline-spec';
import { envelopeFields } from '../core/object-fields';
import { tokenSpec } from '../core/token-spec';
import { fieldSchema, fieldsSchema, Schema, Shape, TEXT_NOTE, TEXT_PATTERN } from './json-schema';
import { defaultRole, Role, ROLE_EXTENSION, roles } from '../core/roles';
import { snapshotRequestFields, dlqSelectionSchema } from './routes/operations';
import { IF_MATCH } from './routes/common';
import { addAlertPaths } from './alerts/openapi';
import {
  array,
  bool,
  boolParam,
  dateTime,
  int,
  json,
  kindedSchemas,
  list,
  meta,
  nullable,
  obj,
  oneOfStrings,
  operation,
  OperationDecl,
  pageParams,
  dlqStatuses,
  ignoredMeta,
  pascal,
  ref,
  str,
  textParam,
  uuid,
} from './openapi-parts';

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

function pipelineSchemas(schemas: Schema): void {
  const fields = { ...envelopeFields, ...pipelineSpec.fields };
  const described = { title: pipelineSpec.title, description: pipelineSpec.description };
  const resp = fieldsSchema(fields, 'response') as { properties: Schema; required: string[] };
  schemas.Pipeline = {
    ...resp,
    properties: { ...meta, ...resp.properties },
    required: [...Object.keys(meta), ...resp.required],
    ...described,
  };
  const input = fieldsSchema(fields, 'request') as { properties: Schema };
  schemas.PipelineInput = { ...input, properties: { ...input.properties, ...ignoredMeta }, ...described };
  const patch = fieldsSchema(fields, 'patch') as { properties: Schema };
  schemas.PipelinePatch = {
    ...patch,
    properties: { ...patch.properties, ...ignoredMeta },
    description: 'Fields to change; delivery is merged into the stored one.',
  };
  // In topology documents pipelines name their source, destination and transforms.
  const { source_id: _s, destination_id: _d, transform_ids: _t, ...rest } = fields;
  const name = {
    type: 'string',
    minLength: 1,
    pattern: TEXT_PATTERN,
    description: 'Name of an object in the document or the instance.',
  };
  const tResp = fieldsSchema(rest, 'response') as { properties: Schema; required: string[] };
  schemas.TopologyPipeline = obj({ ...tResp.properties, source: str, destination: str, transforms: array(str) });
  const tIn = fieldsSchema(rest, 'request') as { properties: Schema };
  schemas.TopologyPipelineInput = obj(
    { ...tIn.properties, source: name, destination: name, transforms: nullable('array', { items: name }) },
    {
      optional: Object.keys(tIn.properties)
        .filter((k) => k !== 'name')
        .concat('transforms'),
    },
  );
}

function dataPlaneSchemas(schemas: Schema): void {
  const worker = (more: Schema) => obj({ state: str, reason: nullable('string'), ...more });
  // As api/status.ts reports it (one function for this route, the status list, the console and alerts).
  schemas.PipelineStatus = obj({
    id: uuid,
    name: str,
    tags: { type: 'object', additionalProperties: str },
    desired_state: oneOfStrings('running', 'paused'),
    state: oneOfStrings('Starting', 'Snapshotting', 'Active', 'Paused', 'Broken'),
    reason: nullable('string'),
    since: dateTime,
    worker_id: nullable('string'),
    source: worker({
      position: {
        description:
          'The source position (kind-specific: a Postgres LSN, a MySQL GTID set or binlog file and position), or null.',
      },
      last_event_at: nullable('string'),
      replication_lag_bytes: nullable('integer'),
    }),
    sink: worker({
      lag: nullable('integer'),
      last_write_at: nullable('string'),
      partitions: array(obj({ topic: str, partition: int(0), lag: { type: 'integer' } })),
    }),
    dlq: obj({ count: int(0) }),
    throughput: {
      anyOf: [
        obj({ events_in_per_s: { type: 'number' }, events_out_per_s: { type: 'number' }, at: dateTime }),
        { type: 'null' },
      ],
      description: 'From the newest metrics sample; null before the first.',
    },
  });
  const progress = obj(
    { rows: int(0), total_estimate: nullable('integer'), done: bool, gap_deletes: int(0), error: str },
    { optional: ['gap_deletes', 'error'] },
  );
  schemas.Snapshot = obj({
    id: uuid,
    pipeline_id: uuid,
    status: oneOfStrings('pending', 'running', 'done', 'failed'),
    mode: oneOfStrings('incremental', 'blocking'),
    filter: nullable('string'),
    reason: str,
    tables: array(str),
    progress: { type: 'object', additionalProperties: progress },
    rows_done: int(0),
    rows_total: int(0),
    percent: { type: 'integer', minimum: 0, maximum: 100 },
    error: nullable('string'),
    created_at: dateTime,
    finished_at: nullable('string', { format: 'date-time' }),
  });
  schemas.SnapshotInput = fieldsSchema(snapshotRequestFields, 'request');
  schemas.DlqRecord = obj({
    id: int(1),
    status: { type: 'string', enum: dlqStatuses },
    topic: str,
    partition: int(0),
    offset: int(0),
    key: nullable('string'),
    error_class: str,
    error_message: str,
    attempts: int(0),
    record: { description: 'The record as consumed (JSON), or null.' },
    created_at: dateTime,
  });
  schemas.DlqSelection = dlqSelectionSchema;
  const done = (key: string) => obj({ [key]: int(0), ids: array(int(1)) });
  schemas.DlqReplayResult = done('replay_requested');
  schemas.DlqDiscardResult = done('discarded');
  schemas.Verify = obj({
    pipeline_id: uuid,
    pass: bool,
    checked_at: dateTime,
    checks: {
      type: 'array',
      items: obj(
        {
          check: oneOfStrings('state', 'lag_falling', 'dlq_empty', 'freshness', 'row_count', 'databases_reachable'),
          pass: bool,
          detail: str,
          table: str,
        },
        { optional: ['table'] },
      ),
    },
  });
  const partition = obj({
    topic: str,
    partition: int(0),
    committed_offset: { type: 'integer' },
    end_offset: int(0),
    lag: int(0),
  });
  schemas.ConsumerGroups = obj({
    items: {
      type: 'array',
      items: obj({
        group: str,
        pipeline_id: uuid,
        pipeline: str,
        state: str,
        members: int(0),
        partitions: array(partition),
        lag: int(0),
      }),
    },
  });
}

export function buildOpenApi(): Schema {
  const schemas: Schema = {
    Problem: {
      type: 'object',
      required: ['type', 'title', 'status', 'detail'],
      properties: {
        type: str,
        title: str,
        status: { type: 'integer' },
        detail: str,
        errors: { type: 'array', items: obj({ field: str, message: str }) },
      },
    },
    SecretRef: {
      ...obj({ $secret: { type: 'string', minLength: 1, pattern: TEXT_PATTERN } }),
      description:
        'A secret field in a topology document: the name of an entry of ' +
        '`secrets` (or, on import, keep the stored value).',
    },
  };
  const paths: Record<string, Schema> = {};
  const add = (path: string, method: string, d: OperationDecl) => {
    (paths[path] ??= {})[method] = operation(method, path, d);
  };

  for (const category of ['source', 'destination', 'transform'] as Category[]) {
    kindedSchemas(pascal(category), specsOf(category), schemas);
    const one = pascal(category);
    const coll = `/v1/${collections[category]}`;
    schemas[`${one}List`] = list(ref(one));
    const query = {
      ...pageParams,
      kind: {
        type: 'string',
        enum: specsOf(category).map((s) => s.kind),
        description: `Only ${collections[category]} of this kind.`,
      },
      name: textParam('Only the object with exactly this name.'),
    };
    add(coll, 'get', { summary: `List ${collections[category]}`, query, ok: { 200: json(ref(`${one}List`)) } });
    add(coll, 'post', {
      summary: `Create a ${category}`,
      body: ref(`${one}Input`),
      ok: { 201: json(ref(one), 'Created') },
      errors: [409],
    });
    add(`${coll}/{id}`, 'get', { summary: `Get a ${category}`, ok: { 200: json(ref(one)) } });
    add(`${coll}/{id}`, 'put', {
      summary: `Replace a ${category} (omitted secret fields keep their value)`,
      ifMatch: true,
      body: ref(`${one}Input`),
      ok: { 200: json(ref(one)) },
      errors: [409, 412],
    });
    add(`${coll}/{id}`, 'patch', {
      summary: `Change some fields of a ${category} (config is merged; null resets a field to its default)`,
      ifMatch: true,
      body: ref(`${one}Patch`),
      ok: { 200: json(ref(one)) },
      errors: [409, 412],
    });
    add(`${coll}/{id}`, 'delete', {
      summary: `Delete a ${category} (409 while a pipeline uses it)`,
      ifMatch: true,
      ok: { 204: { description: 'Deleted' } },
      errors: [409, 412],
    });
  }

  pipelineSchemas(schemas);
  schemas.PipelineList = list(ref('Pipeline'));
  add('/v1/pipelines', 'get', {
    summary: 'List pipelines',
    query: { ...pageParams, name: textParam('Only the pipeline with exactly this name.') },
    ok: { 200: json(ref('PipelineList')) },
  });
  add('/v1/pipelines', 'post', {
    summary: 'Create a pipeline',
    body: ref('PipelineInput'),
    ok: { 201: json(ref('Pipeline'), 'Created') },
    errors: [409],
  });
  add('/v1/pipelines/{id}', 'get', { summary: 'Get a pipeline', ok: { 200: json(ref('Pipeline')) } });
  add('/v1/pipelines/{id}', 'put', {
    summary: 'Replace a pipeline',
    ifMatch: true,
    body: ref('PipelineInput'),
    ok: { 200: json(ref('Pipeline')) },
    errors: [409, 412],
  });
  add('/v1/pipelines/{id}', 'patch', {
    summary: 'Change some fields of a pipeline',
    ifMatch: true,
    body: ref('PipelinePatch'),
    ok: { 200: json(ref('Pipeline')) },
    errors: [409, 412],
  });
  add('/v1/pipelines/{id}', 'delete', {
    summary: 'Delete a pipeline',
    ifMatch: true,
    ok: { 204: { description: 'Deleted' } },
    errors: [412],
  });
  for (const op of ['pause', 'resume']) {
    add(`/v1/pipelines/{id}/${op}`, 'post', {
      summary: `${pascal(op)} a pipeline (sets desired_state)`,
      role: 'operator',
      ifMatch: true,
      ok: { 200: json(ref('Pipeline')) },
      errors: [412],
    });
  }

  // Data-plane operations (api/routes/operations.ts).
  dataPlaneSchemas(schemas);
  add('/v1/pipelines/{id}/status', 'get', {
    summary: 'Pipeline state (Starting|Snapshotting|Active|Paused|Broken), source, sink and DLQ',
    ok: { 200: json(ref('PipelineStatus')) },
  });
  add('/v1/pipelines/{id}/restart', 'post', {
    summary: 'Restart the pipeline runner',
    role: 'operator',
    ok: { 202: json(obj({ status: { type: 'string', const: 'restart requested' } }), 'Accepted') },
  });
  add('/v1/pipelines/{id}/snapshots', 'post', {
    summary: 'Start an incremental (watermark) or blocking snapshot',
    role: 'operator',
    body: ref('SnapshotInput'),
    ok: { 202: json(ref('Snapshot'), 'Accepted') },
    errors: [409],
  });
  add('/v1/pipelines/{id}/snapshots', 'get', {
    summary: "The pipeline's latest 100 snapshots",
    ok: { 200: json(obj({ items: array(ref('Snapshot')), total: int(0) })) },
  });
  add('/v1/pipelines/{id}/snapshots/{sid}', 'get', {
    summary: 'Snapshot progress',
    ok: { 200: json(ref('Snapshot')) },
  });
  const dlqStatus = {
    type: 'string',
    pattern: `^(all|(${dlqStatuses.join('|')})(,(${dlqStatuses.join('|')}))*)$`,
    default: 'pending',
    description: `Records in these states (comma-separated: ${dlqStatuses.join(', ')}), or all.`,
  };
  add('/v1/pipelines/{id}/dlq', 'get', {
    summary: 'Dead-letter records',
    query: { ...pageParams, status: dlqStatus },
    ok: { 200: json(list(ref('DlqRecord'))) },
  });
  add('/v1/pipelines/{id}/dlq/replay', 'post', {
    summary: 'Replay pending DLQ records through the current transforms and destination',
    role: 'operator',
    body: ref('DlqSelection'),
    ok: { 202: json(ref('DlqReplayResult'), 'Accepted') },
  });
  add('/v1/pipelines/{id}/dlq/discard', 'post', {
    summary: 'Discard pending DLQ records',
    role: 'operator',
    body: ref('DlqSelection'),
    ok: { 200: json(ref('DlqDiscardResult')) },
  });
  add('/v1/pipelines/{id}/verify', 'get', {
    summary:
      'Post-outage checklist: state, lag falling, freshness per table, DLQ ' +
      'count, row counts, each pass/fail (reads the source and destination ' +
      'databases)',
    role: 'operator',
    ok: { 200: json(ref('Verify')) },
  });
  add('/v1/pipelines/{id}/schema', 'get', {
    summary:
      'Schema history per source table: current columns and types, every ' +
      'change with the source position at which it took effect, held changes',
    ok: { 200: json({ type: 'object' }) },
  });
  add('/v1/pipelines/{id}/schema/ack', 'post', {
    summary: 'Release tables held by a schema change (an incompatible type change needs a resolution)',
    role: 'operator',
    body: obj(
      {
        table: { type: 'string', pattern: QUALIFIED_TABLE_RE.source },
        resolution: oneOfStrings('resnapshot', 'new_column'),
      },
      { optional: ['table', 'resolution'] },
    ),
    ok: {
      200: json(obj({ acknowledged: array(obj({ table: str, version: int(1), resolution: nullable('string') })) })),
    },
    errors: [409],
  });
  add('/v1/consumer-groups', 'get', {
    summary: 'Consumer groups: pipeline, state, lag per partition and total',
    ok: { 200: json(ref('ConsumerGroups')) },
    errors: [503],
  });

  schemas.TopologyDocument = obj({
    format: { type: 'string', const: 'sluice/v1' },
    sources: array(ref('TopologySource')),
    destinations: array(ref('TopologyDestination')),
    transforms: array(ref('TopologyTransform')),
    pipelines: array(ref('TopologyPipeline')),
    alert_channels: array(ref('TopologyAlertChannel')),
    alert_rules: array(ref('TopologyAlertRule')),
  });
  schemas.TopologyImport = obj(
    {
      format: { type: 'string', const: 'sluice/v1' },
      sources: array(ref('TopologySourceInput')),
      destinations: array(ref('TopologyDestinationInput')),
      transforms: array(ref('TopologyTransformInput')),
      pipelines: array(ref('TopologyPipelineInput')),
      alert_channels: array(ref('TopologyAlertChannelInput')),
      alert_rules: array(ref('TopologyAlertRuleInput')),
      secrets: {
        type: 'object',
        additionalProperties: { type: 'string', pattern: TEXT_PATTERN },
        description: 'Values of the {"$secret": name} placeholders.',
      },
    },
    { optional: ['sources', 'destinations', 'transforms', 'pipelines', 'alert_channels', 'alert_rules', 'secrets'] },
  );
  const change = obj(
    {
      action: oneOfStrings('create', 'update', 'delete', 'unchanged'),
      type: oneOfStrings('source', 'destination', 'transform', 'pipeline', 'alert_channel', 'alert_rule'),
      name: str,
      id: uuid,
      fields: array(str),
    },
    { optional: ['id', 'fields'] },
  );
  schemas.ImportResult = obj({
    dry_run: bool,
    changes: array(change),
    summary: obj({ create: int(0), update: int(0), delete: int(0), unchanged: int(0) }),
  });
  add('/v1/export', 'get', {
    summary: 'Export the whole topology (secrets become variables)',
    query: {
      format: {
        type: 'string',
        enum: ['json', 'hcl'],
        default: 'json',
        description: 'json (a topology document) or hcl (Terraform).',
      },
      import_blocks: boolParam('HCL only: add import {} blocks so Terraform adopts the existing objects.'),
    },
    ok: {
      200: {
        description: 'The topology',
        content: { 'application/json': { schema: ref('TopologyDocument') }, 'text/plain': { schema: str } },
      },
    },
  });
  add('/v1/import', 'post', {
    summary: 'Import a topology document, idempotent by name',
    query: {
      dry_run: boolParam('Only plan: change nothing.'),
      prune: boolParam('Delete objects the document does not name.'),
    },
    body: ref('TopologyImport'),
    ok: { 200: json(ref('ImportResult'), 'The plan (dry run) or what was done') },
    errors: [409],
  });
  schemas.AuditEntry = obj({
    id: int(1),
    at: dateTime,
    actor: str,
    origin: oneOfStrings('api', 'terraform', 'import', 'cli', 'console'),
    remote_addr: nullable('string'),
    action: str,
    object_type: str,
    object_id: nullable('string', { format: 'uuid' }),
    object_name: nullable('string'),
    changed_fields: array(str),
  });
  add('/v1/audit', 'get', {
    summary: 'Who changed what, when and from where (newest first)',
    query: { ...pageParams, object_id: { ...uuid, description: 'Only changes of this object.' } },
    ok: { 200: json(list(ref('AuditEntry'))) },
  });

  const tokenOut = {
    id: uuid,
    name: str,
    role: { type: 'string', enum: [...roles] },
    created_at: dateTime,
    expires_in: nullable('integer', { minimum: 60 }),
    expires_at: nullable('string', { format: 'date-time' }),
    last_used_at: nullable('string', { format: 'date-time' }),
  };
  schemas.Token = { ...obj(tokenOut), title: tokenSpec.title, description: tokenSpec.description };
  schemas.TokenCreated = obj({
    ...tokenOut,
    token: { type: 'string', description: 'The secret bearer token. Shown only in this response: store it now.' },
  });
  schemas.TokenInput = fieldsSchema(tokenSpec.fields, 'request');
  add('/v1/tokens', 'get', {
    summary: 'List API tokens (never their secrets)',
    role: 'admin',
    query: pageParams,
    ok: { 200: json(list(ref('Token'))) },
  });
  add('/v1/tokens', 'post', {
    summary: 'Create an API token; the response carries its secret, once',
    body: ref('TokenInput'),
    ok: { 201: json(ref('TokenCreated'), 'Created') },
    errors: [409],
  });
  add('/v1/tokens/{id}', 'get', {
    summary: 'Get an API token (never its secret)',
    role: 'admin',
    ok: { 200: json(ref('Token')) },
  });
  add('/v1/tokens/{id}', 'delete', {
    summary: 'Revoke an API token: it stops working at once (not the token of this request)',
    ok: { 204: { description: 'Revoked' } },
    errors: [409],
  });

  // The console's and alerts' routes (api/alerts/openapi.ts).
  addAlertPaths(add, schemas);
  add('/healthz', 'get', {
    summary: 'Process up',
    security: false,
    ok: { 200: json(obj({ status: { type: 'string', const: 'ok' } })) },
  });
  const ready = obj(
    {
      status: oneOfStrings('ready', 'not ready'),
      detail: str,
      checks: { type: 'object', additionalProperties: obj({ ok: bool, error: str }, { optional: ['error'] }) },
    },
    { optional: ['detail'] },
  );
  add('/readyz', 'get', {
    summary: 'Control DB, Redis and Kafka reachable',
    security: false,
    ok: { 200: json(ready), 503: json(ready, 'Names what is not reachable') },
  });
  add('/metrics', 'get', {
    summary: 'Prometheus metrics',
    security: false,
    ok: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: str } } } },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice control plane',
      version: '1',
      description:
        'Sources, destinations, transforms and pipelines of a Sluice CDC ' +
        'installation. Every /v1 route needs Authorization: Bearer <token>; ' +
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
