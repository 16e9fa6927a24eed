import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';
import { HTTP_URL_RE } from '../../core/patterns';

export const declaration: ConnectorSpec & { category: 'destination' } = {
  category: 'destination',
  kind: 's3',
  title: 'S3 object storage destination (Parquet)',
  description:
    "Writes each table's change events as an append log of Parquet (or JSON Lines) files to an S3-compatible bucket, " +
    ('under `<prefix>/<table>/dt=YYYY-MM-DD/hr=HH/<first offset>-<last ' +
      'offset>.parquet`. Every file carries `_sluice_op`, ') +
    ('`_sluice_source_ts`, `_sluice_offset` and `_sluice_ingested_at`, so ' +
      'readers take the latest change per key. A Kafka offset ') +
    'is committed only once the file that holds it is complete in the bucket.',
  fields: {
    bucket: {
      type: 'string',
      required: true,
      pattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      patternHint: 'an S3 bucket name: 3-63 lowercase letters, digits, "." and "-"',
      description: 'Bucket the files are written to. It must exist.',
    },
    prefix: {
      type: 'string',
      default: '',
      maxLength: 512,
      // No control characters, and no `.`: JavaScript's dot refuses \r where other regex engines (the
      // OpenAPI document's readers) take it.
      pattern: /^$|^[^/\u0000-\u001f\u007f]([^\u0000-\u001f\u007f]*[^/\u0000-\u001f\u007f])?$/,
      patternHint: 'a key prefix without a leading or trailing "/" or control characters',
      description:
        'Key prefix in front of every file (no leading or trailing `/`); empty ' +
        'puts the table folders at the bucket root.',
    },
    table_name_format: {
      ...common.tableNameFormat,
      default: '{schema}.{table}',
      description: 'The folder of a table under `prefix`; `{schema}`, `{table}` and `{topic_prefix}` are replaced.',
    },
    format: {
      type: 'string',
      default: 'parquet',
      enum: ['parquet', 'jsonl'],
      description:
        'parquet: typed columns (see the type mapping in docs/dataplane.md). ' +
        "jsonl: one JSON object per line, the values as Sluice's change events " +
        'carry them.',
    },
    parquet_compression: {
      type: 'string',
      default: 'zstd',
      enum: ['zstd', 'snappy', 'gzip', 'uncompressed'],
      description: 'Compression of the Parquet column chunks.',
    },
    max_file_bytes: {
      type: 'integer',
      default: 64 * 1024 * 1024,
      min: 1024,
      max: 512 * 1024 * 1024,
      description:
        'A file is closed once the row data buffered for it (as JSON text, ' +
        'before encoding and compression) reaches this many bytes.',
    },
    max_file_age_ms: {
      type: 'integer',
      default: 60000,
      min: 1000,
      max: 3_600_000,
      description:
        'A file is closed at the latest this long (ms) after its first change ' +
        'arrived: the most a change waits before it is in the bucket and its ' +
        'offset committed.',
    },
    endpoint: {
      type: 'string',
      default: '',
      maxLength: 1024,
      pattern: new RegExp(`^$|${HTTP_URL_RE.source}`),
      patternHint: 'an http:// or https:// URL, or empty for AWS',
      description: 'URL of an S3-compatible service (MinIO, Ceph, moto, ...); empty uses AWS S3 in `region`.',
    },
    region: {
      type: 'string',
      default: 'us-east-1',
      maxLength: 64,
      pattern: /^[a-z0-9-]+$/,
      patternHint: 'a region name such as eu-west-1',
      description: 'Region of the bucket.',
    },
    force_path_style: {
      type: 'boolean',
      default: false,
      description:
        'Address the bucket as `<endpoint>/<bucket>` instead of ' +
        '`<bucket>.<endpoint>` (most S3-compatible services need true).',
    },
    access_key_id: {
      type: 'string',
      sensitive: true,
      maxLength: 256,
      description:
        'Access key id. Write-only: encrypted at rest and never returned. ' +
        'Without it the default AWS credential chain applies (environment, ' +
        'instance role).',
    },
    secret_access_key: {
      type: 'string',
      sensitive: true,
      maxLength: 1024,
      description: 'Secret access key of `access_key_id`. Write-only: encrypted at rest and never returned.',
    },
    session_token: {
      type: 'string',
      sensitive: true,
      maxLength: 4096,
      description: 'Session token of temporary credentials. Write-only: encrypted at rest and never returned.',
    },
    server_side_encryption: {
      type: 'string',
      default: 'none',
      enum: ['none', 'AES256', 'aws:kms'],
      description:
        "Server-side encryption requested for every file: none (the bucket's " +
        'default), AES256 (SSE-S3) or aws:kms (SSE-KMS, with `sse_kms_key_id`).',
    },
    sse_kms_key_id: {
      type: 'string',
      default: '',
      maxLength: 2048,
      description: 'KMS key id or ARN for `server_side_encryption = "aws:kms"`; empty uses the account\'s default key.',
    },
    ingestion_mode: {
      type: 'string',
      default: 'append',
      enum: ['append'],
      description:
        'Always append: every change is a row of the log; readers take the row ' +
        'with the highest `_sluice_offset` per key.',
    },
    batch_size: common.batchSize,
  },
};
