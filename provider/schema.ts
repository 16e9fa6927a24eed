import { Category, collections, connectorSpecs, ConnectorSpec, FieldSpec, resourceType } from '../connectors';
import { envelopeFields } from '../core/object-fields';
import { pipelineSpec } from '../core/pipeline-spec';
import { alertRuleSpec, channelKinds, channelSpec } from '../core/alert-spec';
import { tokenSpec } from '../core/token-spec';
import type { CtyType, Value } from './protocol/cty';

/**
 * Terraform schemas derived from the connector and pipeline declarations: there is no field list
 * here. Rules: a required field is Required; a field with a default is Optional+Computed and the
 * provider plans the default when the configuration leaves it out (so state, plan and the API
 * agree); any other field is Optional. Sensitive fields are sensitive and write-only (never read
 * back from the API, never stored in state where Terraform supports write-only attributes).
 */

export interface AttrDef {
  name: string;
  type: CtyType;
  description: string;
  required: boolean;
  optional: boolean;
  computed: boolean;
  sensitive: boolean;
  writeOnly: boolean;
  default?: Value;
  forcesReplacement: boolean;
  spec?: FieldSpec;
  /** For nested objects (pipeline delivery): the sub-attributes. */
  nested?: AttrDef[];
  /** Where the value lives in the API object: config.<name> for connector fields, else top level. */
  inConfig: boolean;
  /** Computed from the create response only and kept from then on (an API token's secret). */
  produced?: boolean;
}

/** Set by Sluice, never by the configuration: planned unknown on create, carried over otherwise. */
export const isReadOnly = (a: AttrDef) => a.computed && !a.optional && !a.required;

export interface ResourceDef {
  typeName: string;
  category: Category | 'pipeline' | 'alert_channel' | 'alert_rule' | 'token';
  kind?: string;
  /** API collection path, e.g. sources. */
  collection: string;
  title: string;
  description: string;
  attrs: AttrDef[];
  /** Config attributes that belong in the API body of this planned object (one resource for several kinds). */
  configFields?: (planned: Record<string, unknown>) => Set<string>;
}

function ctyType(f: FieldSpec): CtyType {
  switch (f.type) {
    case 'string':
      return 'string';
    case 'integer':
      return 'number';
    case 'boolean':
      return 'bool';
    case 'list':
      return ['list', 'string'];
    case 'map':
      return ['map', 'string'];
    case 'object':
      return ['object', Object.fromEntries(Object.entries(f.fields ?? {}).map(([k, x]) => [k, ctyType(x)]))];
  }
}

function describe(f: FieldSpec): string {
  const extra: string[] = [];
  if (f.enum) extra.push(`One of: ${f.enum.map((e) => `\`${e}\``).join(', ')}.`);
  if (f.default !== undefined && f.type !== 'object') extra.push(`Default: \`${JSON.stringify(f.default)}\`.`);
  if (f.forcesReplacement) extra.push('Changing it replaces the object.');
  return [f.description, ...extra].join(' ');
}

function attrFrom(name: string, f: FieldSpec, inConfig: boolean): AttrDef {
  const hasDefault = f.default !== undefined || f.type === 'object';
  const nested =
    f.type === 'object' ? Object.entries(f.fields ?? {}).map(([k, x]) => attrFrom(k, x, false)) : undefined;
  return {
    name,
    type: ctyType(f),
    description: describe(f),
    spec: f,
    inConfig,
    nested,
    required: !!f.required && !hasDefault,
    optional: !f.required || hasDefault,
    computed: hasDefault && !f.sensitive,
    sensitive: !!f.sensitive,
    writeOnly: !!f.sensitive,
    default:
      f.type === 'object'
        ? Object.fromEntries((nested ?? []).map((a) => [a.name, a.default ?? null]))
        : (f.default as Value | undefined),
    forcesReplacement: !!f.forcesReplacement,
  };
}

const computedAttr = (name: string, type: CtyType, description: string): AttrDef => ({
  name,
  type,
  description,
  required: false,
  optional: false,
  computed: true,
  sensitive: false,
  writeOnly: false,
  forcesReplacement: false,
  inConfig: false,
});

export const readOnlyAttrs: AttrDef[] = [
  computedAttr('id', 'string', 'Identifier (UUID) assigned by Sluice.'),
  computedAttr('version', 'number', 'Version of the object in Sluice; it increases with every change.'),
  computedAttr('created_at', 'string', 'When the object was created (RFC 3339).'),
  computedAttr('updated_at', 'string', 'When the object last changed (RFC 3339).'),
];
/** The pipeline's live state (GET /v1/pipelines/{id}/status), refreshed with every plan. */
export const pipelineStateAttr = computedAttr(
  'state',
  'string',
  'Live state reported by Sluice, refreshed on every plan: Starting, ' +
    'Snapshotting, Active, Paused or Broken. Details: data source ' +
    'sluice_pipeline_status.',
);

function build(
  typeName: string,
  category: ResourceDef['category'],
  collection: string,
  title: string,
  description: string,
  fields: Record<string, FieldSpec>,
  inConfig: boolean,
  kind?: string,
  common: { readOnly: AttrDef[]; envelope: Record<string, FieldSpec> } = {
    readOnly: readOnlyAttrs,
    envelope: envelopeFields,
  },
): ResourceDef {
  const attrs: AttrDef[] = [...common.readOnly];
  for (const [k, f] of Object.entries(common.envelope)) attrs.push(attrFrom(k, f, false));
  for (const [k, f] of Object.entries(fields)) {
    if (attrs.some((a) => a.name === k)) throw new Error(`${typeName}: field ${k} collides with a common attribute`);
    attrs.push(attrFrom(k, f, inConfig));
  }
  return { typeName, category, kind, collection, title, description, attrs };
}

export function connectorResource(spec: ConnectorSpec): ResourceDef {
  return build(
    resourceType(spec),
    spec.category,
    collections[spec.category],
    spec.title,
    spec.description,
    spec.fields,
    true,
    spec.kind,
  );
}

export const pipelineResource: ResourceDef = build(
  'sluice_pipeline',
  'pipeline',
  'pipelines',
  pipelineSpec.title,
  pipelineSpec.description,
  pipelineSpec.fields,
  false,
);
pipelineResource.attrs.push(pipelineStateAttr);

/**
 * Alert channels: one resource for every kind (`kind` attribute), whose attributes are the union of
 * the kinds' fields (named uniquely across kinds, see api/alerts/spec.ts); only the planned kind's
 * fields go to the API. Alert rules: top-level fields like the pipeline.
 */
export const alertChannelResource: ResourceDef = build(
  'sluice_alert_channel',
  'alert_channel',
  'alert-channels',
  channelSpec.title,
  channelSpec.description,
  channelSpec.allFields,
  true,
);
alertChannelResource.attrs.splice(
  readOnlyAttrs.length + Object.keys(envelopeFields).length,
  0,
  attrFrom('kind', channelSpec.kindField, false),
);
alertChannelResource.configFields = (planned) =>
  new Set(Object.keys(channelKinds.find((k) => k.kind === planned.kind)?.fields ?? {}));
export const alertRuleResource: ResourceDef = build(
  'sluice_alert_rule',
  'alert_rule',
  'alert-rules',
  alertRuleSpec.title,
  alertRuleSpec.description,
  alertRuleSpec.fields,
  false,
);

/**
 * sluice_api_token: every field forces a new token. Its secret is produced by the API, not
 * configured: a sensitive computed attribute, in the state from the create on, so a configuration
 * can pass it on (an output, a secret store) once.
 */
export const tokenResource: ResourceDef = build(
  'sluice_api_token',
  'token',
  'tokens',
  tokenSpec.title,
  tokenSpec.description,
  tokenSpec.fields,
  false,
  undefined,
  {
    envelope: {},
    readOnly: [
      readOnlyAttrs[0],
      readOnlyAttrs[2],
      computedAttr('expires_at', 'string', 'When the token stops working (RFC 3339), or null if never.'),
      {
        ...computedAttr(
          'token',
          'string',
          'The secret bearer token. Known only after the create (it is never ' +
            'read back): kept in the state, so protect the state; an imported ' +
            'token has none.',
        ),
        sensitive: true,
        produced: true,
      },
    ],
  },
);

export const resources: Map<string, ResourceDef> = new Map(
  [
    ...connectorSpecs.map(connectorResource),
    pipelineResource,
    alertChannelResource,
    alertRuleResource,
    tokenResource,
  ].map((r) => [r.typeName, r]),
);

/** Data sources: one per object kind, looked up by name (every attribute but name is computed; no secrets). */
export function dataSourceOf(r: ResourceDef): ResourceDef {
  return {
    ...r,
    attrs: r.attrs
      .filter((a) => !a.sensitive)
      .map((a) =>
        a.name === 'name'
          ? { ...a, required: true, optional: false, computed: false }
          : {
              ...a,
              required: false,
              optional: false,
              computed: true,
              nested: a.nested?.map((n) => ({ ...n, required: false, optional: false, computed: true })),
            },
      ),
  };
}

export const statusAttrs: AttrDef[] = [
  { ...computedAttr('pipeline_id', 'string', 'Id of the pipeline.'), required: true, computed: false },
  computedAttr('state', 'string', 'Starting, Snapshotting, Active, Paused or Broken.'),
  computedAttr('reason', 'string', 'Why the pipeline is in this state (for Broken: the error).'),
  computedAttr('since', 'string', 'When the pipeline entered this state.'),
  computedAttr('source_state', 'string', 'State of the source runner.'),
  computedAttr('source_position', 'string', 'Last acknowledged source position (LSN or GTID set).'),
  computedAttr('sink_state', 'string', 'State of the sink runner.'),
  computedAttr('sink_lag', 'number', 'Records in Kafka not yet written to the destination.'),
  computedAttr('dlq_count', 'number', 'Records in the dead-letter queue.'),
  computedAttr('status_json', 'string', 'The whole status document as JSON.'),
];
export const pipelineStatusSource: ResourceDef = {
  typeName: 'sluice_pipeline_status',
  category: 'pipeline',
  collection: 'pipelines',
  title: 'Pipeline status',
  description: 'The live status of a pipeline (GET /v1/pipelines/{id}/status).',
  attrs: statusAttrs,
};

/** Tokens have no data source: they are not looked up by name, and their secret cannot be read back. */
export const dataSources: Map<string, ResourceDef> = new Map(
  [...[...resources.values()].filter((r) => r !== tokenResource).map(dataSourceOf), pipelineStatusSource].map((r) => [
    r.typeName,
    r,
  ]),
);

export function objectType(attrs: AttrDef[]): CtyType {
  return ['object', Object.fromEntries(attrs.map((a) => [a.name, a.nested ? objectType(a.nested) : a.type]))];
}

// ---------------------------------------------------------------------------------------------
// As tfplugin6 Schema messages

function protoAttr(a: AttrDef, writeOnlyAllowed: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: a.name,
    description: a.description,
    description_kind: 1,
    required: a.required,
    optional: a.optional,
    computed: a.computed,
    sensitive: a.sensitive,
    write_only: a.writeOnly && writeOnlyAllowed,
  };
  if (a.nested) out.nested_type = { nesting: 1, attributes: a.nested.map((n) => protoAttr(n, writeOnlyAllowed)) };
  else out.type = Buffer.from(JSON.stringify(a.type));
  return out;
}

export function protoSchema(
  r: Pick<ResourceDef, 'attrs' | 'description'>,
  writeOnlyAllowed = true,
): Record<string, unknown> {
  return {
    version: 0,
    block: {
      version: 0,
      description: r.description,
      description_kind: 1,
      attributes: r.attrs.map((a) => protoAttr(a, writeOnlyAllowed)),
    },
  };
}

export const providerConfigAttrs: AttrDef[] = [
  {
    ...computedAttr(
      'endpoint',
      'string',
      'URL of the Sluice API, e.g. http://127.0.0.1:8080. Default: $SLUICE_ENDPOINT, else http://127.0.0.1:8080.',
    ),
    computed: false,
    optional: true,
  },
  {
    ...computedAttr(
      'token',
      'string',
      'API token. Default: $SLUICE_TOKEN, else the token `sluice dev` wrote to $SLUICE_HOME/token.',
    ),
    computed: false,
    optional: true,
    sensitive: true,
  },
];
