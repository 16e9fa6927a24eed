import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';

export const declaration: ConnectorSpec & { category: 'destination' } = {
  category: 'destination',
  kind: 'kafka',
  title: 'Kafka destination (another cluster)',
  description:
    "Delivers change events into topics of another Kafka cluster, keyed by primary key, in Sluice's envelope or a " +
    ('Debezium-compatible JSON envelope, with an idempotent producer ' +
      '(acks=all). A Kafka offset of the pipeline is committed only ') +
    'after the destination cluster acknowledged the record.',
  fields: {
    bootstrap_servers: {
      type: 'list',
      required: true,
      pattern: /^[^\s:/]+:\d{1,5}$/,
      patternHint: 'host:port',
      description: 'Brokers of the destination cluster to bootstrap from, as `host:port`.',
    },
    table_name_format: {
      ...common.tableNameFormat,
      default: '{topic_prefix}.{schema}.{table}',
      description:
        'Destination topic of a table; `{schema}`, `{table}` and ' +
        '`{topic_prefix}` are replaced, characters Kafka does not allow become ' +
        '`_`.',
    },
    envelope: {
      type: 'string',
      default: 'sluice',
      enum: ['sluice', 'debezium'],
      description:
        "sluice: the change event as Sluice's own topics carry it (column " +
        'types in the `sluice.columns` header). debezium: ' +
        ("`{before, after, source, op, ts_ms}` with Debezium's field names and " +
          'op codes, as its JSON converter writes it without schemas.'),
    },
    tombstones: {
      type: 'boolean',
      default: true,
      description:
        'After a delete, also send a record with the key and no value, so a ' +
        "compacted topic drops the key (Debezium's default).",
    },
    sasl_mechanism: {
      type: 'string',
      default: 'none',
      enum: ['none', 'plain', 'scram-sha-256', 'scram-sha-512'],
      description: 'SASL login to the brokers; none connects without one.',
    },
    sasl_username: {
      type: 'string',
      default: '',
      maxLength: 256,
      description: 'SASL user name (with a sasl_mechanism other than none).',
    },
    sasl_password: {
      type: 'string',
      sensitive: true,
      maxLength: 1024,
      description: 'SASL password of `sasl_username`. Write-only: encrypted at rest and never returned.',
    },
    tls_mode: {
      type: 'string',
      default: 'disable',
      enum: ['disable', 'require', 'verify-full'],
      description:
        'TLS to the brokers: disable, require (encrypted, certificate not ' +
        'checked) or verify-full (certificate checked against `tls_ca_pem`, ' +
        'else the system CAs).',
    },
    tls_ca_pem: {
      type: 'string',
      default: '',
      maxLength: 65536,
      multiline: true,
      description: "PEM certificate(s) of the CA that signed the brokers' certificates, for tls_mode verify-full.",
    },
    topic_partitions: {
      type: 'integer',
      default: 1,
      min: 1,
      max: 10000,
      description: 'Partitions of a destination topic Sluice creates (an existing topic is used as it is).',
    },
    topic_replication_factor: {
      type: 'integer',
      default: -1,
      min: -1,
      max: 32767,
      description: "Replication factor of a topic Sluice creates; -1 takes the cluster's default.replication.factor.",
    },
    batch_size: common.batchSize,
  },
};
