import { connectorSpecs, FieldSpec, resourceType } from '../connectors';
import { pipelineSpec } from '../core/pipeline-spec';
import { tokenSpec } from '../core/token-spec';

/** docs/connectors.md, rendered from the declarations (test/docs.test.ts keeps the file in sync). */
export function renderConnectorDocs(): string {
  const out: string[] = [
    '# Connector reference',
    '',
    '<!-- Generated from connectors/*/declaration.ts, core/pipeline-spec.ts and core/token-spec.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every object also has `name` (unique per collection, any Unicode text up to 200 characters) and `tags` (string map).',
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
      ].filter(Boolean).join(' ');
      const def = f.default === undefined || f.type === 'object' ? '' : `\`${JSON.stringify(f.default)}\``;
      rows.push(`| \`${prefix}${k}\` | ${f.type} | ${f.required ? 'yes' : ''} | ${def} | ${notes} |`);
      if (f.type === 'object') rows.push(...table(f.fields ?? {}, `${prefix}${k}.`).slice(2));
    }
    return rows;
  };
  for (const s of connectorSpecs) {
    out.push(`## ${s.title}`, '', `\`${s.category}\` kind \`${s.kind}\` — Terraform resource \`${resourceType(s)}\`.`, '', s.description, '', ...table(s.fields), '');
  }
  out.push(`## ${pipelineSpec.title}`, '', 'Terraform resource `sluice_pipeline`; API collection `/v1/pipelines` (fields at the top level).', '', pipelineSpec.description, '', ...table(pipelineSpec.fields), '');
  out.push(`## ${tokenSpec.title}`, '', 'Terraform resource `sluice_api_token`; API collection `/v1/tokens` (admin role). The secret (`token`) is returned once, by the create.', '', tokenSpec.description, '', ...table(tokenSpec.fields), '');
  return out.join('\n');
}
