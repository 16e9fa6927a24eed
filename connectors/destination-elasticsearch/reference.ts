// The behaviour of the elasticsearch destination that its fields do not say, for docs/connectors.md.
import { MAPPING_TABLE, METADATA_FIELDS } from './mapping';

const field = (f: Record<string, unknown>) => `\`${JSON.stringify(f)}\``;

export function reference(): string {
  return [
    '### Elasticsearch mappings',
    '',
    'An index that does not exist is created on first sight ' +
      '(`number_of_shards`, `number_of_replicas`) with one field per',
    "source column, typed from the column's type (the Postgres type " +
      'vocabulary of the change events, which a MySQL source',
    'maps its types to). Only field types of the Elasticsearch server ' +
      'itself are used, so any Elasticsearch 8 takes them.',
    '',
    '| source type | field | notes |',
    '|---|---|---|',
    ...MAPPING_TABLE.map((m) => `| ${m.types} | ${field(m.field)} | ${m.why.replace(/\|/g, '\\|')} |`),
    ...Object.entries({ ...METADATA_FIELDS.append, ...METADATA_FIELDS.soft }).map(
      ([k, f]) =>
        `| \`${k}\` (added by Sluice) | ${field(f)} | ${k === '_sluice_deleted' ? 'with `hard_delete = false`' : 'append mode'} |`,
    ),
    '',
    '- An existing index or alias of the name is used as it is: a column it does not map yet is added to its mapping',
    '  (a new source column likewise), unless the mapping says `dynamic: ' +
      'strict` — then its owner decides, and a document',
    '  with a field it does not map is rejected (DLQ). Create the index yourself to choose other field types.',
    '- Document id: the primary-key value (one key column) or the JSON ' +
      'array of the key values. Upsert mode writes each',
    "  id once per batch, with the key's last state; an update that " +
      'changes the key deletes the old document. An update',
    '  whose image leaves out an unchanged TOASTed column is merged into the stored document. Tables without a primary',
    '  key get their inserts appended (generated ids). Append mode writes one document per change, id',
    '  `<schema>.<table>:<key>@<offset>`, so a redelivered change replaces itself.',
    '- A truncate deletes (or, with `hard_delete = false`, flags) every document of the index, by scroll and bulk.',
    '- A document Elasticsearch rejects (mapping conflict, value of the ' +
      'wrong type) goes through the delivery retries to',
    '  the DLQ with error class `es_<type>` (e.g. ' +
      '`es_document_parsing_exception`); the rest of the bulk request is ' +
      'written.',
    '  Items refused for load (429, 503) and unreachable clusters are ' +
      'retried without limit (Broken after the grace period).',
    '- `verify` counts documents (`_count`; in append mode the keys whose ' +
      'latest document is no delete), as refreshed by',
    '  the index (1 s by default).',
  ].join('\n');
}
