import { errors, fieldSchema, fieldsSchema, idParam, ifMatch, json, pageParams, ref } from '../openapi-parts';
import { envelopeFields } from '../../core/object-fields';
import { metricsSchema } from '../metrics-history';
import { STATES } from '../status';
import { alertRuleSpec, channelKinds, channelSpec, CONDITIONS } from '../../core/alert-spec';

type Schema = Record<string, unknown>;

/**
 * OpenAPI of the routes added for the console and alerts: alert channels, rules and history, the
 * metrics history and the status list. Schemas come from the declarations (spec.ts), as for
 * connectors.
 */
export function addAlertPaths(paths: Schema, schemas: Schema): void {
  const page = pageParams;
  const e = errors;
  const meta = { id: { type: 'string', format: 'uuid', readOnly: true }, version: { type: 'integer', readOnly: true }, created_at: { type: 'string', format: 'date-time', readOnly: true }, updated_at: { type: 'string', format: 'date-time', readOnly: true } };
  const listOf = (item: Schema) => ({ type: 'object', required: ['items', 'total', 'page', 'page_size'], properties: { items: { type: 'array', items: item }, total: { type: 'integer' }, page: { type: 'integer' }, page_size: { type: 'integer' } } });

  const variants = channelKinds.map((k) => {
    const name = `AlertChannel${k.kind[0].toUpperCase()}${k.kind.slice(1)}`;
    schemas[`${name}Config`] = { ...fieldsSchema(k.fields), title: k.title, description: k.description };
    schemas[name] = {
      type: 'object', additionalProperties: false, required: ['name', 'kind', 'config'],
      properties: {
        ...meta, name: fieldSchema(envelopeFields.name), kind: { type: 'string', enum: [k.kind] }, config: ref(`${name}Config`), tags: fieldSchema(envelopeFields.tags),
        secrets_set: { type: 'array', items: { type: 'string' }, readOnly: true, description: 'Secret fields that have a stored value (values are never returned).' },
      },
    };
    return ref(name);
  });
  schemas.AlertChannel = { oneOf: variants, discriminator: { propertyName: 'kind' }, description: channelSpec.description };
  const rule = fieldsSchema({ ...envelopeFields, ...alertRuleSpec.fields });
  schemas.AlertRule = {
    ...rule, title: alertRuleSpec.title, description: alertRuleSpec.description,
    properties: {
      ...meta, ...(rule.properties as Schema),
      firing: { type: 'array', readOnly: true, description: 'Pipelines the rule is firing for now.', items: { type: 'object', properties: { pipeline_id: { type: 'string', format: 'uuid' }, pipeline: { type: 'string' }, since: { type: 'string', format: 'date-time' } } } },
    },
  };
  schemas.AlertNotification = {
    type: 'object', required: ['id', 'event', 'rule_id', 'rule', 'pipeline_id', 'pipeline', 'condition', 'transition', 'at', 'deliveries'],
    properties: {
      id: { type: 'integer' }, event: { type: 'string', enum: ['firing', 'resolved'] }, rule_id: { type: 'string', format: 'uuid' }, rule: { type: 'string' },
      pipeline_id: { type: 'string', format: 'uuid' }, pipeline: { type: 'string' }, condition: { type: 'string', enum: [...CONDITIONS] },
      value: { type: ['string', 'null'] }, reason: { type: ['string', 'null'] }, transition: { type: 'integer', description: 'Number of the firing this event belongs to (per rule and pipeline).' },
      at: { type: 'string', format: 'date-time' },
      deliveries: { type: 'array', items: { type: 'object', properties: {
        channel_id: { type: 'string', format: 'uuid' }, channel: { type: 'string' }, status: { type: 'string', enum: ['pending', 'delivered', 'failed', 'dropped'] },
        attempts: { type: 'integer' }, last_error: { type: ['string', 'null'] }, delivered_at: { type: ['string', 'null'], format: 'date-time' }, next_attempt_at: { type: ['string', 'null'], format: 'date-time' },
      } } },
    },
  };
  const crud = (collection: string, one: string, what: string) => {
    paths[`/v1/${collection}`] = {
      get: { summary: `List ${what}s`, parameters: [...page, { name: 'name', in: 'query', schema: { type: 'string' }, description: 'Exact name.' }], responses: { 200: json(listOf(ref(one))), 400: e[400], 401: e[401] } },
      post: { summary: `Create an ${what}`, requestBody: { required: true, content: { 'application/json': { schema: ref(one) } } }, responses: { 201: json(ref(one), 'Created'), 400: e[400], 401: e[401], 409: e[409] } },
    };
    paths[`/v1/${collection}/{id}`] = {
      parameters: [idParam],
      get: { summary: `Get an ${what}`, responses: { 200: json(ref(one)), 401: e[401], 404: e[404] } },
      put: { summary: `Replace an ${what}`, parameters: [ifMatch], requestBody: { required: true, content: { 'application/json': { schema: ref(one) } } }, responses: { 200: json(ref(one)), ...e } },
      patch: { summary: `Change some fields of an ${what}`, parameters: [ifMatch], requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } }, responses: { 200: json(ref(one)), ...e } },
      delete: { summary: `Delete an ${what}`, parameters: [ifMatch], responses: { 204: { description: 'Deleted' }, 401: e[401], 404: e[404], 409: e[409], 412: e[412] } },
    };
  };
  crud('alert-channels', 'AlertChannel', 'alert channel');
  crud('alert-rules', 'AlertRule', 'alert rule');
  paths['/v1/alerts'] = {
    get: {
      summary: 'Notifications, newest first (one per transition: firing, resolved), with their delivery per channel',
      parameters: [...page, { name: 'rule_id', in: 'query', schema: { type: 'string', format: 'uuid' } }, { name: 'pipeline_id', in: 'query', schema: { type: 'string', format: 'uuid' } },
        { name: 'event', in: 'query', schema: { type: 'string', enum: ['firing', 'resolved'] } }],
      responses: { 200: json(listOf(ref('AlertNotification'))), 400: e[400], 401: e[401] },
    },
  };
  schemas.PipelineMetrics = metricsSchema;
  paths['/v1/pipelines/{id}/metrics'] = {
    parameters: [idParam],
    get: {
      summary: 'Metrics history of a pipeline (sampled every 10 s, kept 24 h), in buckets of `step` seconds',
      parameters: [
        { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'Start (RFC 3339), within the last 24 hours. Default: one hour ago.' },
        { name: 'step', in: 'query', schema: { type: 'integer', minimum: 10, maximum: 3600, default: 10 }, description: 'Bucket width in seconds.' },
      ],
      responses: { 200: json(ref('PipelineMetrics')), 400: e[400], 401: e[401], 404: e[404] },
    },
  };
  paths['/v1/pipelines/status'] = {
    get: {
      summary: 'Status of every pipeline in one call, with throughput from the metrics history',
      parameters: [...page, { name: 'state', in: 'query', schema: { type: 'string', enum: [...STATES] } }, { name: 'name_contains', in: 'query', schema: { type: 'string', maxLength: 200 }, description: 'Case-insensitive substring of the name.' }],
      responses: { 200: json({ type: 'object', properties: { items: { type: 'array', items: { type: 'object' } }, total: { type: 'integer' }, page: { type: 'integer' }, page_size: { type: 'integer' }, counts: { type: 'object', additionalProperties: { type: 'integer' } } } }), 400: e[400], 401: e[401] },
    },
  };
}
