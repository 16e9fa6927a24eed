// The request format of the webhook destination and how a receiver checks it, for docs/connectors.md.
// test/dataplane/destination-webhook.test.ts runs the three verification lines below as they are written.

/** The receiver-side check of a request, three lines of Node.js (`rawBody`: the body as received, `secret`: signing_secret). */
export const VERIFY_SNIPPET = [
  "const ts = req.headers['x-sluice-timestamp'], sig = req.headers['x-sluice-signature'];",
  "const expected = 'v1=' + crypto.createHmac('sha256', secret).update(`${ts}.${rawBody}`).digest('hex');",
  'const ok = sig?.length === expected.length && ' +
    'crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected)) && ' +
    'Math.abs(Date.now() / 1000 - Number(ts)) < 300;',
].join('\n');

const EXAMPLE = {
  table: 'orders',
  op: 'u',
  key: { id: 42 },
  before: { id: 42, status: 'new' },
  after: { id: 42, status: 'paid' },
  source: { lsn: '0/16B3748', tx_id: 771, ts_ms: 1714564800123, schema: 'public', table: 'orders', snapshot: false },
  ts_ms: 1714564800150,
  offset: '1187',
};

export function reference(): string {
  return [
    '### Webhook payload',
    '',
    'Each request is a POST of up to `batch_size` change events, in order, as a JSON array (`format = "json_array"`,',
    '`Content-Type: application/json`) or one event per line (`"ndjson"`, `application/x-ndjson`). An event:',
    '',
    '```json',
    JSON.stringify(EXAMPLE),
    '```',
    '',
    '`op` is `c` (insert), `u` (update), `d` (delete), `r` (snapshot row) or `t` (truncate, no images); `key` is the',
    'primary key (null for a table without one); values follow the ' +
      'change-event conventions (docs/dataplane.md: numeric,',
    'bigint beyond 2^53, timestamps and JSON as strings). `offset` is the ' +
      "Kafka offset of the change in its table's topic:",
    '`table`, `key` and `offset` identify a change, so a receiver can drop ' +
      'a redelivered one (delivery is at least once).',
    'Every change is delivered as an event, whatever the ingestion mode.',
    '',
    'Headers: `X-Sluice-Timestamp` (Unix seconds) and, with `signing_secret` set, `X-Sluice-Signature: v1=<hex>`, the',
    'HMAC-SHA256 of `<timestamp>.<body>` keyed with the signing secret; ' +
      'then `headers` and `secret_headers`. A receiver',
    'checks a request in three lines of Node.js (`rawBody` is the body ' +
      'exactly as received, `secret` the signing secret):',
    '',
    '```js',
    VERIFY_SNIPPET,
    '```',
    '',
    'Answers: 2xx is delivered. 5xx, 408, 429, a timeout (`timeout_ms`) or ' +
      'a network error is retried without limit with',
    'backoff, never sooner than a `Retry-After` (seconds or an HTTP date, ' +
      'at most 5 minutes), and the pipeline turns Broken',
    '(`destination_unreachable`) after the grace period. Any other 4xx ' +
      'refuses the batch: its records are retried one by one',
    "per the pipeline's `delivery`, so only the records the receiver " +
      'refuses go to the DLQ (error class `http_<status>`).',
    'Records of one key are never delivered out of order, also around ' +
      'retries. A redirect is not followed (retried, with',
    'the new location in the status). `verify` cannot count what a ' +
      "receiver holds: it reports the source's row counts only.",
  ].join('\n');
}
