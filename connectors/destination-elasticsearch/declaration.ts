import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';
import { HTTP_URL_RE } from '../../core/patterns';

export const declaration: ConnectorSpec & { category: 'destination' } = {
  category: 'destination',
  kind: 'elasticsearch',
  title: 'Elasticsearch destination',
  description:
    'Indexes change events into Elasticsearch 8: one index per table, the primary key as document id, upserts and ' +
    ('deletes through the bulk API (a rejected document goes to the DLQ, ' +
      'the rest of the bulk is written); an index is ') +
    ('created on first sight with a mapping from the source column types ' +
      '(see docs/connectors.md, "Elasticsearch mappings").'),
  fields: {
    url: {
      type: 'string',
      required: true,
      maxLength: 2048,
      pattern: HTTP_URL_RE,
      patternHint:
        'an http:// or https:// URL without credentials (use username/password ' +
        'or api_key), e.g. https://es.internal:9200',
      description: 'URL of the cluster (a node or a load balancer), e.g. https://es.internal:9200.',
    },
    username: {
      type: 'string',
      maxLength: 256,
      description: 'User for basic authentication (with `password`); leave unset with `api_key` or an open cluster.',
    },
    password: {
      ...common.password,
      description: 'Password of `username`. Write-only: encrypted at rest and never returned.',
    },
    api_key: {
      type: 'string',
      sensitive: true,
      maxLength: 4096,
      description:
        'API key (the base64 `encoded` value Elasticsearch returns), instead of username/password. Write-only.',
    },
    ca_certificate: {
      type: 'string',
      multiline: true,
      maxLength: 65536,
      description:
        "PEM certificate(s) of the CA that signed the cluster's TLS certificate, when it is not a public one.",
    },
    table_name_format: {
      ...common.tableNameFormat,
      description:
        'Index name per source table; `{schema}`, `{table}` and ' +
        '`{topic_prefix}` are replaced and the result is lower-cased ' +
        '(Elasticsearch index names are lower case). An existing index or ' +
        'alias of that name is written as it is.',
    },
    ingestion_mode: common.ingestionMode,
    hard_delete: {
      ...common.hardDelete,
      description:
        'true: a source delete deletes the document. false: the document is kept and `_sluice_deleted` is set to true.',
    },
    batch_size: { ...common.batchSize, description: 'Maximum change events per bulk request.' },
    number_of_shards: {
      type: 'integer',
      default: 1,
      min: 1,
      max: 1024,
      description: 'Primary shards of an index Sluice creates.',
    },
    number_of_replicas: {
      type: 'integer',
      default: 1,
      min: 0,
      max: 32,
      description: 'Replicas of an index Sluice creates (0 for a single-node cluster).',
    },
    request_timeout_ms: {
      type: 'integer',
      default: 30000,
      min: 1000,
      max: 600000,
      description: 'Longest wait (ms) for one request; a timeout is retried like an unreachable cluster.',
    },
  },
};
