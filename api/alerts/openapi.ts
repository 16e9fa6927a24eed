import { fieldsSchema, TEXT_PATTERN } from '../json-schema';
import {
  array,
  dateTime,
  ignoredMeta,
  int,
  json,
  kindedSchemas,
  list,
  meta,
  nullable,
  obj,
  OperationDecl,
  pageParams,
  ref,
  Schema,
  str,
  textParam,
  uuid,
} from '../openapi-parts';
import { envelopeFields } from '../../core/object-fields';
import { metricsSchema } from '../metrics-history';
import { STATES } from '../status';
import { alertRuleSpec, channelKinds, channelSpec, CONDITIONS } from '../../core/alert-spec';

type Add = (path: string, method: string, d: OperationDecl) => void;

/**
 * OpenAPI of the routes added for the console and alerts: alert channels, rules and history, the
 * metrics history and the status list. As exact as the rest of the document (test/fuzz runs
 * schemathesis against it): alert channels are a family of kinds like connectors (kindedSchemas),
 * rules are declared like pipelines (alertRuleSpec).
 */
export function addAlertPaths(add: Add, schemas: Schema): void {
  kindedSchemas('AlertChannel', channelKinds, schemas);
  (schemas.AlertChannel as Schema).description = channelSpec.description;
  schemas.AlertChannelList = list(ref('AlertChannel'));

  const fields = { ...envelopeFields, ...alertRuleSpec.fields };
  const described = { title: alertRuleSpec.title, description: alertRuleSpec.description };
  const firingItem = obj({ pipeline_id: uuid, pipeline: str, since: dateTime });
  const text = { type: 'string', pattern: TEXT_PATTERN };
  const ignoredFiring = {
    ...array(obj({ pipeline_id: uuid, pipeline: text, since: dateTime })),
    description: 'Ignored (read-only; sent back by clients that PUT what they GET).',
  };
  const resp = fieldsSchema(fields, 'response') as { properties: Schema; required: string[] };
  schemas.AlertRule = {
    ...resp,
    ...described,
    properties: {
      ...meta,
      ...resp.properties,
      firing: { ...array(firingItem), description: 'Pipelines the rule is firing for now.' },
    },
    required: [...Object.keys(meta), ...resp.required, 'firing'],
  };
  const input = fieldsSchema(fields, 'request') as { properties: Schema };
  schemas.AlertRuleInput = {
    ...input,
    ...described,
    properties: { ...input.properties, ...ignoredMeta, firing: ignoredFiring },
  };
  const patch = fieldsSchema(fields, 'patch') as { properties: Schema };
  schemas.AlertRulePatch = {
    ...patch,
    properties: { ...patch.properties, ...ignoredMeta, firing: ignoredFiring },
    description: 'Fields to change (409 if pipeline_id and selector would both be set).',
  };
  schemas.AlertRuleList = list(ref('AlertRule'));
  // In topology documents rules name their pipeline and channels.
  const { pipeline_id: _p, channel_ids: _c, ...rest } = fields;
  const name = {
    type: 'string',
    minLength: 1,
    pattern: TEXT_PATTERN,
    description: 'Name of an object in the document or the instance.',
  };
  const tResp = fieldsSchema(rest, 'response') as { properties: Schema };
  schemas.TopologyAlertRule = obj({ ...tResp.properties, pipeline: nullable('string'), channels: array(str) });
  const tIn = fieldsSchema(rest, 'request') as { properties: Schema };
  schemas.TopologyAlertRuleInput = obj(
    {
      ...tIn.properties,
      pipeline: { ...name, type: ['string', 'null'] },
      channels: { ...array(name), minItems: 1, uniqueItems: true },
    },
    {
      optional: Object.keys(tIn.properties)
        .filter((k) => !(fields[k as keyof typeof fields] as { required?: boolean }).required)
        .concat('pipeline'),
    },
  );

  const conditionParam = { type: 'string', format: 'uuid' };
  for (const [collection, one, what] of [
    ['alert-channels', 'AlertChannel', 'alert channel'],
    ['alert-rules', 'AlertRule', 'alert rule'],
  ]) {
    const coll = `/v1/${collection}`;
    const refs = one === 'AlertRule' ? ' (409 names a pipeline or channel that does not exist)' : '';
    add(coll, 'get', {
      summary: `List ${what}s`,
      query: { ...pageParams, name: textParam('Only the object with exactly this name.') },
      ok: { 200: json(ref(`${one}List`)) },
    });
    add(coll, 'post', {
      summary: `Create an ${what}${refs}`,
      body: ref(`${one}Input`),
      ok: { 201: json(ref(one), 'Created') },
      errors: [409],
    });
    add(`${coll}/{id}`, 'get', { summary: `Get an ${what}`, ok: { 200: json(ref(one)) } });
    add(`${coll}/{id}`, 'put', {
      summary: `Replace an ${what}`,
      ifMatch: true,
      body: ref(`${one}Input`),
      ok: { 200: json(ref(one)) },
      errors: [409, 412],
    });
    add(`${coll}/{id}`, 'patch', {
      summary: `Change some fields of an ${what}`,
      ifMatch: true,
      body: ref(`${one}Patch`),
      ok: { 200: json(ref(one)) },
      errors: [409, 412],
    });
    add(`${coll}/{id}`, 'delete', {
      summary: `Delete an ${what}${one === 'AlertChannel' ? ' (409 while a rule uses it)' : ''}`,
      ifMatch: true,
      ok: { 204: { description: 'Deleted' } },
      errors: [409, 412],
    });
  }

  const delivery = obj({
    channel_id: uuid,
    channel: str,
    status: { type: 'string', enum: ['pending', 'delivered', 'failed', 'dropped'] },
    attempts: int(0),
    last_error: nullable('string'),
    delivered_at: nullable('string', { format: 'date-time' }),
    next_attempt_at: nullable('string', { format: 'date-time' }),
  });
  schemas.AlertNotification = obj({
    id: int(1),
    event: { type: 'string', enum: ['firing', 'resolved'] },
    rule_id: uuid,
    rule: str,
    pipeline_id: uuid,
    pipeline: str,
    condition: { type: 'string', enum: [...CONDITIONS] },
    value: nullable('string'),
    reason: nullable('string'),
    transition: { type: 'integer', description: 'Number of the firing this event belongs to (per rule and pipeline).' },
    at: dateTime,
    deliveries: array(delivery),
  });
  add('/v1/alerts', 'get', {
    summary: 'Notifications, newest first (one per transition: firing, resolved), with their delivery per channel',
    query: {
      ...pageParams,
      rule_id: { ...conditionParam, description: "Only this rule's." },
      pipeline_id: { ...conditionParam, description: "Only this pipeline's." },
      event: { type: 'string', enum: ['firing', 'resolved'], description: 'Only firings or only resolutions.' },
    },
    ok: { 200: json(list(ref('AlertNotification'))) },
  });

  schemas.PipelineMetrics = metricsSchema;
  add('/v1/pipelines/{id}/metrics', 'get', {
    summary: 'Metrics history of a pipeline (sampled every 10 s, kept 24 h), in buckets of `step` seconds',
    query: {
      since: {
        type: 'string',
        format: 'date-time',
        description:
          'Start (RFC 3339). Default: one hour ago. An earlier start answers from the oldest kept sample (24 h).',
      },
      step: { type: 'integer', minimum: 10, maximum: 3600, default: 10, description: 'Bucket width in seconds.' },
    },
    ok: { 200: json(ref('PipelineMetrics')) },
  });
  add('/v1/pipelines/status', 'get', {
    summary: 'Status of every pipeline in one call, with throughput from the metrics history',
    query: {
      ...pageParams,
      state: { type: 'string', enum: [...STATES], description: 'Only pipelines in this state.' },
      name_contains: textParam('Case-insensitive substring of the name.'),
    },
    ok: {
      200: json({
        ...list(ref('PipelineStatus')),
        required: ['items', 'total', 'page', 'page_size', 'counts'],
        properties: {
          ...(list(ref('PipelineStatus')).properties as Schema),
          counts: obj(Object.fromEntries(STATES.map((s) => [s, int(0)]))),
        },
      }),
    },
  });
}
