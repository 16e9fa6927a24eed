import { connectorModules, connectorSpecs, FieldSpec, resourceType } from '../connectors';
import type { DestinationModule, SchemaChangeSupport } from '../connectors/module';
import { pipelineSpec } from '../core/pipeline-spec';
import { alertRuleSpec, channelKinds } from '../core/alert-spec';
import { tokenSpec } from '../core/token-spec';

/** docs/connectors.md, rendered from the declarations (test/docs.test.ts keeps the file in sync). */
export function renderConnectorDocs(): string {
  const out: string[] = [
    '# Connector reference',
    '',
    '<!-- Generated from connectors/*/declaration.ts, ' +
      'core/pipeline-spec.ts, core/alert-spec.ts and core/token-spec.ts by ' +
      '`npm run docs`; do not edit by hand. -->',
    '',
    'Every object also has `name` (unique per collection, any Unicode text ' +
      'up to 200 characters) and `tags` (string map).',
    'In the API, connector fields live under `config`; in Terraform they are top-level attributes of the resource.',
    'Sensitive fields are write-only: encrypted at rest (AES-256-GCM), never returned, exported as variables.',
    '',
  ];
  const table = (fields: Record<string, FieldSpec>, prefix = ''): string[] => {
    const rows = ['| field | type | required | default | notes |', '|---|---|---|---|---|'];
    for (const [k, f] of Object.entries(fields)) {
      const notes = [
        f.description.replace(/\|/g, '\\|'),
        f.enum ? `One of: ${f.enum.map((e) => `\`${e}\``).join(', ')}.` : '',
        f.min !== undefined || f.max !== undefined ? `Range ${f.min ?? '…'}–${f.max ?? '…'}.` : '',
        f.sensitive ? '**Sensitive** (write-only).' : '',
        f.forcesReplacement ? '**Changing it forces a new object.**' : '',
      ]
        .filter(Boolean)
        .join(' ');
      const def = f.default === undefined || f.type === 'object' ? '' : `\`${JSON.stringify(f.default)}\``;
      rows.push(`| \`${prefix}${k}\` | ${f.type} | ${f.required ? 'yes' : ''} | ${def} | ${notes} |`);
      if (f.type === 'object') rows.push(...table(f.fields ?? {}, `${prefix}${k}.`).slice(2));
    }
    return rows;
  };
  for (const m of connectorModules) {
    const s = m.declaration;
    out.push(
      `## ${s.title}`,
      '',
      `\`${s.category}\` kind \`${s.kind}\` — Terraform resource \`${resourceType(s)}\`.`,
      '',
      s.description,
      '',
      ...table(s.fields),
      '',
    );
    if (m.reference) out.push(m.reference().trim(), '');
  }
  out.push(
    `## ${pipelineSpec.title}`,
    '',
    'Terraform resource `sluice_pipeline`; API collection `/v1/pipelines` (fields at the top level).',
    '',
    pipelineSpec.description,
    '',
    ...table(pipelineSpec.fields),
    '',
  );
  out.push(...schemaChangeTable());
  for (const k of channelKinds) {
    out.push(
      `## Alert channel: ${k.title}`,
      '',
      `\`kind\` \`${k.kind}\` — Terraform resource \`sluice_alert_channel\` (with \`kind = "${k.kind}"\`); ` +
        `API collection \`/v1/alert-channels\` (fields under \`config\`). See [alerts.md](alerts.md).`,
      '',
      k.description,
      '',
      ...table(k.fields),
      '',
    );
  }
  out.push(
    `## ${alertRuleSpec.title}`,
    '',
    'Terraform resource `sluice_alert_rule`; API collection ' +
      '`/v1/alert-rules` (fields at the top level). See ' +
      '[alerts.md](alerts.md).',
    '',
    alertRuleSpec.description,
    '',
    ...table(alertRuleSpec.fields),
    '',
  );
  out.push(
    `## ${tokenSpec.title}`,
    '',
    'Terraform resource `sluice_api_token`; API collection `/v1/tokens` ' +
      '(admin role). The secret (`token`) is returned once, by the create.',
    '',
    tokenSpec.description,
    '',
    ...table(tokenSpec.fields),
    '',
  );
  return out.join('\n');
}

/** What each destination kind does with schema changes under `schema_changes = propagate` (from each module's schemaChanges). */
function schemaChangeTable(): string[] {
  const say: { [K in keyof SchemaChangeSupport]: Record<SchemaChangeSupport[K], string> } = {
    add: { alter: 'added to the table', free: 'carried by later records' },
    drop: { nullable: 'kept, made nullable, NULL in new rows', free: 'absent from later records' },
    widen: { alter: 'column altered in place', free: 'carried as is', no: 'incompatible: table held' },
    retype: { free: 'carried as is', no: 'incompatible: table held (resnapshot or new column)' },
  };
  const rows = [
    "| destination kind | new column | dropped column (and a rename's old one) | widened type | other type change |",
    '|---|---|---|---|---|',
  ];
  for (const m of connectorModules.filter((x): x is DestinationModule => x.declaration.category === 'destination')) {
    const c = m.schemaChanges;
    rows.push(
      `| \`${m.declaration.kind}\` | ${say.add[c.add]} | ${say.drop[c.drop]} | ${say.widen[c.widen]} | ${say.retype[c.retype]} |`,
    );
  }
  return [
    '## Schema changes by destination kind',
    '',
    "What a change of a source table's columns does downstream when the " +
      "pipeline's `schema_changes` is `propagate` (see docs/dataplane.md, " +
      '"Schema changes"; a renamed column reaches the destination as a drop ' +
      'plus an add). `ignore_new_columns` leaves new columns out whatever ' +
      'the kind; `fail` holds the table at any change until it is ' +
      'acknowledged.',
    '',
    ...rows,
    '',
  ];
}
