// The webhook destination in the conformance suite: a receiver in the test process (node:http) per
// test that checks each request's signature and secret header, keeps the latest state per key from
// the events in arrival order, and fails on purpose (503 with Retry-After now and then; 4xx for the
// records a test chooses; connections refused while "stopped").
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { VERIFY_SNIPPET } from '../../../connectors/destination-webhook/reference';
import type { DestinationKit } from '.';

/** The documented receiver check (docs/connectors.md, "Webhook payload"), run as it is written there. */
const verify = new Function('crypto', 'req', 'secret', 'rawBody', `${VERIFY_SNIPPET}\nreturn ok;`) as (
  c: typeof crypto,
  req: http.IncomingMessage,
  secret: string,
  rawBody: string,
) => boolean;

export interface ReceivedRequest {
  at: number;
  status: number;
  headers: http.IncomingHttpHeaders;
  events: any[];
  signatureOk: boolean;
  rawBody: string;
}

/** What a scripted request gets instead of the normal answer. */
export type Scripted = { status: number; retryAfter?: string } | 'destroy' | 'hang';

export class WebhookReceiver {
  readonly secret = crypto.randomBytes(16).toString('hex');
  readonly token = `tok-${crypto.randomBytes(12).toString('hex')}`;
  readonly requests: ReceivedRequest[] = [];
  /** table -> key (JSON) -> latest row; a delete removes the key, a truncate the table. */
  readonly state = new Map<string, Map<string, Record<string, unknown>>>();
  /** A batch holding an event this accepts is answered with `status` (a 4xx) and not applied. */
  rejectIf: ((event: any) => boolean) | null = null;
  rejectStatus = 422;
  /** Answers taken in order by the next requests. */
  script: Scripted[] = [];
  /** Share of requests answered 503 with Retry-After: 1 at random (the receiver failing on purpose). */
  chaos = 0;
  private server: http.Server | null = null;
  private sockets = new Set<Socket>();
  port = 0;

  get url() {
    return `http://127.0.0.1:${this.port}/hooks/sluice`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Refuses connections from now on (open ones are cut) until start(). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const ok = verify(crypto, req, this.secret, rawBody);
      const events = String(req.headers['content-type']).startsWith('application/x-ndjson')
        ? rawBody
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
        : JSON.parse(rawBody || '[]');
      const answer = (status: number, headers: Record<string, string> = {}) => {
        this.requests.push({ at: Date.now(), status, headers: req.headers, events, signatureOk: ok, rawBody });
        res.writeHead(status, headers).end(status < 300 ? '' : `refused (${status})`);
      };
      const next = this.script.shift();
      if (next === 'destroy') {
        this.requests.push({ at: Date.now(), status: 0, headers: req.headers, events, signatureOk: ok, rawBody });
        req.socket.destroy();
        return;
      }
      if (next === 'hang') {
        this.requests.push({ at: Date.now(), status: -1, headers: req.headers, events, signatureOk: ok, rawBody });
        return;
      }
      if (next) return answer(next.status, next.retryAfter ? { 'retry-after': next.retryAfter } : {});
      if (!ok || req.headers.authorization !== `Bearer ${this.token}`) return answer(401);
      if (this.chaos && Math.random() < this.chaos) return answer(503, { 'retry-after': '1' });
      if (this.rejectIf && events.some(this.rejectIf)) return answer(this.rejectStatus);
      for (const e of events) this.apply(e);
      answer(204);
    });
  }

  private apply(e: any) {
    let t = this.state.get(e.table);
    if (!t) this.state.set(e.table, (t = new Map()));
    if (e.op === 't') {
      t.clear();
      return;
    }
    const keyOf = (row: Record<string, unknown> | null) =>
      e.key && row ? JSON.stringify(Object.keys(e.key).map((k) => row[k])) : null;
    const old = keyOf(e.before);
    const now = keyOf(e.after);
    if (old !== null && old !== now) t.delete(old);
    if (e.op === 'd') {
      if (old !== null) t.delete(old);
      return;
    }
    if (now !== null) t.set(now, e.after);
  }
}

/** Receivers of this process by their URL, for the kit's read-back and rejection. */
const receivers = new Map<string, WebhookReceiver>();
const receiverOf = (url: string) => {
  const r = receivers.get(url);
  if (!r) throw new Error(`no webhook receiver at ${url}`);
  return r;
};

const asText = (v: unknown) =>
  v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** The destination config of a receiver: NDJSON, its signing secret and the bearer token as a secret header. */
export const webhookConfig = (r: WebhookReceiver, extra: Record<string, unknown> = {}) => ({
  url: r.url,
  format: 'ndjson',
  signing_secret: r.secret,
  secret_headers: `Authorization: Bearer ${r.token}`,
  ...extra,
});

export const destinationWebhook: DestinationKit = {
  kind: 'webhook',
  database: async (stoppable) => {
    const r = new WebhookReceiver();
    r.chaos = 0.02;
    await r.start();
    receivers.set(r.url, r);
    return {
      url: r.url,
      config: webhookConfig(r),
      outage: stoppable ? r : undefined,
      destroy: async () => {
        receivers.delete(r.url);
        await r.stop();
      },
    };
  },
  rows: async (url, table, cols, key, where) => {
    if (where) throw new Error('the webhook kit reads whole tables (no where clause)');
    const r = receiverOf(url);
    assertSigned(r);
    const rows = [...(r.state.get(table)?.values() ?? [])].map((row) =>
      Object.fromEntries(cols.map((c) => [c, asText(row[c])])),
    );
    return rows.sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : String(a[key]) > String(b[key]) ? 1 : 0));
  },
  rejectNegative: async (url) => {
    const r = receiverOf(url);
    r.rejectIf = (e) => Number(e.after?.v) < 0;
    return {
      rejects: (row) => row.v < 0,
      errorClasses: ['http_422'],
      accept: async () => {
        r.rejectIf = null;
      },
    };
  },
  // No truncate: Sluice cannot empty what a receiver keeps (the kind does not run d2).
};

/** Every request so far was signed correctly and carried the secret header (a receiver check, not a stub). */
function assertSigned(r: WebhookReceiver) {
  const bad = r.requests.filter(
    (q) => q.status !== 0 && (!q.signatureOk || q.headers.authorization !== `Bearer ${r.token}`),
  );
  if (bad.length) throw new Error(`${bad.length} webhook request(s) with a bad signature or without the secret header`);
}
