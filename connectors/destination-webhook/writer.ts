import crypto from 'node:crypto';
import { Envelope } from '../../core/change-event';
import type { DestinationWriter, WriterOpts } from '../module';

export interface WebhookConfig {
  url: string;
  format: 'json_array' | 'ndjson';
  headers: string[];
  secret_headers?: string | null;
  signing_secret?: string | null;
  timeout_ms: number;
  table_name_format: string;
  batch_size: number;
}

/** One event of a request body (docs/connectors.md, "Webhook payload"). */
export interface WebhookEvent {
  table: string;
  op: Envelope['op'];
  key: Record<string, unknown> | null;
  before: Envelope['before'];
  after: Envelope['after'];
  source: Envelope['source'];
  ts_ms: number;
  offset: string;
}

/** The receiver cannot take the request now (5xx, 408, 429, a timeout, a network error): retried without limit. */
export class WebhookUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'WebhookUnavailableError';
  }
}

/** The receiver refused the batch (4xx): a rejected record for the sink (retries, then the DLQ). */
export class WebhookRejectedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookRejectedError';
  }
}

/** `Name: value` lines -> [name, value] pairs. */
function parseHeaders(lines: string[]): [string, string][] {
  return lines
    .filter((l) => l.trim())
    .map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim(), l.slice(i + 1).trim()];
    });
}

/** Retry-After as milliseconds (delta seconds or an HTTP date), undefined when absent or unreadable. */
export function retryAfterMs(h: string | null, now = Date.now()): number | undefined {
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim()) * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/**
 * Webhook destination: one POST per batch (the sink's slice, at most batch_size events), in order.
 * The request is all or nothing, so a refused batch is one rejection; the sink then retries its
 * records one by one, which isolates the records the receiver refuses. Node's fetch (undici) keeps
 * connections alive; no client library is needed for one POST.
 */
export class WebhookWriter implements DestinationWriter {
  private cfg: WebhookConfig;
  private headers: Record<string, string>;
  /** Secret values, kept out of error messages (a receiver may echo a request header in its answer). */
  private secrets: string[];

  constructor(private o: WriterOpts) {
    this.cfg = o.cfg as WebhookConfig;
    this.headers = Object.fromEntries([
      ...parseHeaders(this.cfg.headers ?? []),
      ...parseHeaders((this.cfg.secret_headers ?? '').split(/\r?\n/)),
      ['content-type', this.cfg.format === 'ndjson' ? 'application/x-ndjson' : 'application/json'],
      ['user-agent', 'sluice-webhook'],
    ]);
    this.secrets = [
      this.cfg.signing_secret ?? '',
      ...parseHeaders((this.cfg.secret_headers ?? '').split(/\r?\n/)).map(([, v]) => v),
    ].filter((v) => v.length >= 4);
  }

  async write(envs: Envelope[], offsets: string[], tableFor: (schema: string, table: string) => string): Promise<void> {
    const events = envs.map(
      (e, i): WebhookEvent => ({
        table: tableFor(e.source.schema, e.source.table),
        op: e.op,
        key: keyOf(e),
        before: e.before,
        after: e.after,
        source: e.source,
        ts_ms: e.ts_ms,
        offset: offsets[i],
      }),
    );
    const body =
      this.cfg.format === 'ndjson' ? events.map((x) => JSON.stringify(x)).join('\n') + '\n' : JSON.stringify(events);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = { ...this.headers, 'x-sluice-timestamp': timestamp };
    if (this.cfg.signing_secret)
      headers['x-sluice-signature'] =
        'v1=' + crypto.createHmac('sha256', this.cfg.signing_secret).update(`${timestamp}.${body}`).digest('hex');
    let res: Response;
    try {
      res = await fetch(this.cfg.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.cfg.timeout_ms ?? 10000),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why =
        err.name === 'TimeoutError'
          ? `no answer within ${this.cfg.timeout_ms} ms (timeout_ms)`
          : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new WebhookUnavailableError(`webhook ${this.origin()} not reachable: ${why}`);
    }
    // The answer is read (for the error message) or drained, so the connection can be reused.
    const text = await res.text().catch(() => '');
    if (res.status >= 200 && res.status < 300) return;
    const said = text ? `: ${this.redact(text.slice(0, 200))}` : '';
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw new WebhookRejectedError(res.status, `webhook ${this.origin()} answered ${res.status}${said}`);
    }
    const hint =
      res.status >= 300 && res.status < 400
        ? ` (a redirect to ${res.headers.get('location') ?? '?'}: set url to the final address)`
        : '';
    throw new WebhookUnavailableError(
      `webhook ${this.origin()} answered ${res.status}${hint}${said}`,
      retryAfterMs(res.headers.get('retry-after')),
    );
  }

  private redact(text: string) {
    return this.secrets.reduce((t, v) => t.split(v).join('***'), text);
  }

  /** The URL without path and query, for messages (a token in a query string stays out of logs). */
  private origin() {
    return new URL(this.cfg.url).origin;
  }

  isConnectionError(e: unknown) {
    return e instanceof WebhookUnavailableError;
  }
  errorClass(e: unknown) {
    return e instanceof WebhookRejectedError ? `http_${e.status}` : (e as Error)?.name || 'Error';
  }
  async close() {
    /* fetch's pool closes idle connections by itself */
  }
}

/** The primary key of the event's row (after image, else before), null for a table without one. */
function keyOf(e: Envelope): Record<string, unknown> | null {
  const keys = (e.columns ?? []).filter((c) => c.key);
  const row = e.after ?? e.before;
  if (!keys.length || !row) return null;
  return Object.fromEntries(keys.map((k) => [k.name, row[k.name] ?? null]));
}
