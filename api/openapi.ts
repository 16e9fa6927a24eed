import { Category, collections, connectorSpecs, specsOf } from '../connectors';
import { pipelineSpec } from '../core/pipeline-spec';
import { envelopeFields } from './objects';
import { addAlertPaths } from './alerts/openapi';

import { errors, fieldSchema, fieldsSchema, idParam, ifMatch, json, pageParams, pascal, ref, Schema } from './openapi-parts';

export { fieldSchema, fieldsSchema } from './openapi-parts';

export function buildOpenApi(): Schema {
  const schemas: Schema = {
    Problem: {
      type: 'object',
      properties: {
        type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' },
        errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  };
  const paths: Schema = {};
  const meta = { id: { type: 'string', format: 'uuid', readOnly: true }, version: { type: 'integer', readOnly: true }, created_at: { type: 'string', format: 'date-time', readOnly: true }, updated_at: { type: 'string', format: 'date-time', readOnly: true } };

  for (const category of ['source', 'destination', 'transform'] as Category[]) {
    const variants: Schema[] = [];
    for (const spec of specsOf(category)) {
      const name = `${pascal(category)}${pascal(spec.kind)}`;
      schemas[`${name}Config`] = { ...fieldsSchema(spec.fields), title: spec.title, description: spec.description };
      schemas[name] = {
        type: 'object', additionalProperties: false, required: ['name', 'kind', 'config'],
        properties: { ...meta, name: fieldSchema(envelopeFields.name), kind: { type: 'string', enum: [spec.kind] }, config: ref(`${name}Config`), tags: fieldSchema(envelopeFields.tags) },
      };
      variants.push(ref(name));
    }
    const collection = collections[category];
    const one = `${pascal(category)}`;
    schemas[one] = { oneOf: variants, discriminator: { propertyName: 'kind' } };
    const list = { type: 'object', properties: { items: { type: 'array', items: ref(one) }, total: { type: 'integer' }, page: { type: 'integer' }, page_size: { type: 'integer' } } };
    paths[`/v1/${collection}`] = {
      get: { summary: `List ${collection}`, parameters: [...pageParams, { name: 'kind', in: 'query', schema: { type: 'string' } }, { name: 'name', in: 'query', schema: { type: 'string' } }], responses: { 200: json(list), 400: errors[400], 401: errors[401] } },
      post: { summary: `Create a ${category}`, requestBody: { required: true, content: { 'application/json': { schema: ref(one) } } }, responses: { 201: json(ref(one), 'Created'), 400: errors[400], 401: errors[401], 409: errors[409], 413: errors[413] } },
    };
    paths[`/v1/${collection}/{id}`] = {
      parameters: [idParam],
      get: { summary: `Get a ${category}`, responses: { 200: json(ref(one)), 401: errors[401], 404: errors[404] } },
      put: { summary: `Replace a ${category} (omitted secret fields keep their value)`, parameters: [ifMatch], requestBody: { required: true, content: { 'application/json': { schema: ref(one) } } }, responses: { 200: json(ref(one)), ...errors } },
      patch: { summary: `Change some fields of a ${category} (config is merged; null resets a field to its default)`, parameters: [ifMatch], requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } }, responses: { 200: json(ref(one)), ...errors } },
      delete: { summary: `Delete a ${category} (409 while a pipeline uses it)`, parameters: [ifMatch], responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: errors[404], 409: errors[409], 412: errors[412] } },
    };
  }

  schemas.Pipeline = {
    ...fieldsSchema({ ...envelopeFields, ...pipelineSpec.fields }),
    title: pipelineSpec.title, description: pipelineSpec.description,
  };
  (schemas.Pipeline as { properties: Schema }).properties = { ...meta, ...(schemas.Pipeline as { properties: Schema }).properties };
  paths['/v1/pipelines'] = {
    get: { summary: 'List pipelines', parameters: pageParams, responses: { 200: json({ type: 'object', properties: { items: { type: 'array', items: ref('Pipeline') }, total: { type: 'integer' }, page: { type: 'integer' }, page_size: { type: 'integer' } } }), 401: errors[401] } },
    post: { summary: 'Create a pipeline', requestBody: { required: true, content: { 'application/json': { schema: ref('Pipeline') } } }, responses: { 201: json(ref('Pipeline'), 'Created'), 400: errors[400], 401: errors[401], 409: errors[409] } },
  };
  paths['/v1/pipelines/{id}'] = {
    parameters: [idParam],
    get: { summary: 'Get a pipeline', responses: { 200: json(ref('Pipeline')), 401: errors[401], 404: errors[404] } },
    put: { summary: 'Replace a pipeline', parameters: [ifMatch], requestBody: { required: true, content: { 'application/json': { schema: ref('Pipeline') } } }, responses: { 200: json(ref('Pipeline')), ...errors } },
    patch: { summary: 'Change some fields of a pipeline', parameters: [ifMatch], requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } }, responses: { 200: json(ref('Pipeline')), ...errors } },
    delete: { summary: 'Delete a pipeline', parameters: [ifMatch], responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: errors[404], 412: errors[412] } },
  };
  for (const op of ['pause', 'resume']) {
    paths[`/v1/pipelines/{id}/${op}`] = { parameters: [idParam], post: { summary: `${pascal(op)} a pipeline`, responses: { 200: json(ref('Pipeline')), 401: errors[401], 404: errors[404] } } };
  }
  // Data-plane operations (api/routes/operations.ts).
  const op = (summary: string, method: 'get' | 'post', status = 200, body = false, extra: Record<string, unknown> = {}) => ({
    parameters: [idParam, ...((extra.parameters as unknown[]) ?? [])],
    [method]: { summary, ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } } } : {}), responses: { [status]: json({ type: 'object' }), 401: errors[401], 404: errors[404] } },
  });
  paths['/v1/pipelines/{id}/status'] = op('Pipeline state (Starting|Snapshotting|Active|Paused|Broken), source, sink and DLQ', 'get');
  paths['/v1/pipelines/{id}/restart'] = op('Restart the pipeline runner', 'post', 202);
  paths['/v1/pipelines/{id}/snapshots'] = { ...op('Start an incremental (watermark) or blocking snapshot: {tables[], filter?, mode}', 'post', 202, true), get: { summary: 'List snapshots', responses: { 200: json({ type: 'object' }) } } };
  paths['/v1/pipelines/{id}/snapshots/{sid}'] = { parameters: [idParam, { name: 'sid', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }], get: { summary: 'Snapshot progress', responses: { 200: json({ type: 'object' }), 404: errors[404] } } };
  paths['/v1/pipelines/{id}/dlq'] = op('Dead-letter records (?status=pending|replay_requested|replayed|discarded|superseded|all)', 'get');
  paths['/v1/pipelines/{id}/dlq/replay'] = op('Replay DLQ records through the current transforms and destination: {ids[]} or {all:true}', 'post', 202, true);
  paths['/v1/pipelines/{id}/dlq/discard'] = op('Discard DLQ records: {ids[]} or {all:true}', 'post', 200, true);
  paths['/v1/pipelines/{id}/schema'] = op('Schema history per source table: current columns and types, every change with the source position at which it took effect, held changes', 'get');
  paths['/v1/pipelines/{id}/schema/ack'] = op('Release tables held by a schema change: {table?, resolution?: resnapshot|new_column} (an incompatible type change needs a resolution)', 'post', 200, true);
  paths['/v1/pipelines/{id}/verify'] = op('Post-outage checklist: state, lag falling, freshness per table, DLQ count, row counts, each pass/fail', 'get');
  paths['/v1/consumer-groups'] = { get: { summary: 'Consumer groups: pipeline, state, lag per partition and total', responses: { 200: json({ type: 'object' }), 401: errors[401] } } };
  paths['/v1/export'] = {
    get: {
      summary: 'Export the whole topology (secrets become variables)',
      parameters: [{ name: 'format', in: 'query', schema: { type: 'string', enum: ['json', 'hcl'], default: 'json' } }, { name: 'import_blocks', in: 'query', schema: { type: 'boolean', default: false }, description: 'HCL only: add import {} blocks so Terraform adopts the existing objects.' }],
      responses: { 200: { description: 'The topology', content: { 'application/json': { schema: { type: 'object' } }, 'text/plain': { schema: { type: 'string' } } } }, 401: errors[401] },
    },
  };
  paths['/v1/import'] = {
    post: {
      summary: 'Import a topology document, idempotent by name',
      parameters: [{ name: 'dry_run', in: 'query', schema: { type: 'boolean', default: false } }, { name: 'prune', in: 'query', schema: { type: 'boolean', default: false }, description: 'Delete objects the document does not name.' }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
      responses: { 200: json({ type: 'object' }, 'The plan (dry run) or what was done'), 400: errors[400], 401: errors[401] },
    },
  };
  paths['/v1/audit'] = { get: { summary: 'Who changed what, when and from where', parameters: [...pageParams, { name: 'object_id', in: 'query', schema: { type: 'string', format: 'uuid' } }], responses: { 200: json({ type: 'object' }), 401: errors[401] } } };
  addAlertPaths(paths, schemas); // alert channels, rules, history; metrics; status list
  paths['/healthz'] = { get: { summary: 'Process up', security: [], responses: { 200: json({ type: 'object' }) } } };
  paths['/readyz'] = { get: { summary: 'Control DB, Redis and Kafka reachable', security: [], responses: { 200: json({ type: 'object' }), 503: json({ type: 'object' }, 'Names what is not reachable') } } };
  paths['/metrics'] = { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'Prometheus text format' } } } };

  return {
    openapi: '3.1.0',
    info: { title: 'Sluice control plane', version: '1', description: 'Sources, destinations, transforms and pipelines of a Sluice CDC installation. Every /v1 route needs Authorization: Bearer <token>.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas },
    paths,
    'x-connector-kinds': connectorSpecs.map((s) => ({ category: s.category, kind: s.kind })),
  };
}
