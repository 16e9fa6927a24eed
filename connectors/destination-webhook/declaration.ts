import type { ConnectorSpec } from '../../core/spec';
import { common } from '../shared/fields';
import { HTTP_URL_RE } from '../../core/patterns';

// One header as curl -H writes it. Content-Type, Content-Length, Host and the X-Sluice-* headers are Sluice's own.
const RESERVED =
  String.raw`(?![Cc][Oo][Nn][Tt][Ee][Nn][Tt]-(?:[Tt][Yy][Pp][Ee]|[Ll][Ee][Nn][Gg][Tt][Hh])\s*:|` +
  String.raw`[Hh][Oo][Ss][Tt]\s*:|[Xx]-[Ss][Ll][Uu][Ii][Cc][Ee]-)`;
const HEADER = RESERVED + String.raw`[!#$%&'*+.^_${'`'}|~0-9A-Za-z-]+:[ \t]*[^\r\n]*`;
const headerHint = 'a header as `Name: value` (Content-Type, Content-Length, Host and X-Sluice-* are set by Sluice)';

export const declaration: ConnectorSpec & { category: 'destination' } = {
  category: 'destination',
  kind: 'webhook',
  title: 'Webhook destination',
  description:
    'POSTs batches of change events (a JSON array or NDJSON) to an HTTP endpoint, signed with HMAC-SHA256 over a ' +
    ('timestamp and the body; 5xx, 429 (honouring Retry-After), timeouts ' +
      'and network errors are retried without limit, ') +
    ("other 4xx answers are retried per the pipeline's delivery settings " +
      'and then go to the DLQ. Order is kept per key. ') +
    ('The receiver gets every change as an event, whatever the ingestion ' +
      'mode (see docs/connectors.md, "Webhook payload").'),
  fields: {
    url: {
      type: 'string',
      required: true,
      maxLength: 2048,
      pattern: HTTP_URL_RE,
      patternHint:
        'an http:// or https:// URL without credentials (put them in ' +
        'secret_headers), e.g. https://hooks.example.com/sluice',
      description: 'Endpoint the batches are POSTed to.',
    },
    format: {
      type: 'string',
      default: 'json_array',
      enum: ['json_array', 'ndjson'],
      description:
        'json_array: the body is one JSON array of events (application/json). ' +
        'ndjson: one event per line (application/x-ndjson).',
    },
    headers: {
      type: 'list',
      default: [],
      pattern: new RegExp(`^${HEADER}$`),
      patternHint: headerHint,
      maxLength: 8192,
      description:
        'Extra request headers as `Name: value`, shown in the API and exports (put credentials in `secret_headers`).',
    },
    secret_headers: {
      type: 'string',
      sensitive: true,
      maxLength: 16384,
      multiline: true,
      pattern: new RegExp(`^${HEADER}(\\r?\\n${HEADER})*\\r?\\n?$`),
      patternHint: `one or more lines, each ${headerHint}`,
      description:
        'Request headers whose values are secret (e.g. `Authorization: Bearer ' +
        '...`), one `Name: value` per line. Write-only.',
    },
    signing_secret: {
      type: 'string',
      sensitive: true,
      maxLength: 1024,
      description:
        'Key of the `X-Sluice-Signature` header: `v1=` + hex HMAC-SHA256 of ' +
        '`<X-Sluice-Timestamp>.<body>`. Unset: no signature. Write-only.',
    },
    timeout_ms: {
      type: 'integer',
      default: 10000,
      min: 100,
      max: 300000,
      description: 'Longest wait (ms) for the response to one request; a timeout is retried like a network error.',
    },
    table_name_format: {
      ...common.tableNameFormat,
      description: 'The `table` of each event; `{schema}`, `{table}` and `{topic_prefix}` are replaced.',
    },
    batch_size: { ...common.batchSize, default: 500, description: 'Maximum change events per request.' },
  },
};
