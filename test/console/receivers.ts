import crypto from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A local HTTP receiver of alert webhooks: records each request, checks its HMAC signature. */
export interface Received {
  path: string;
  body: any;
  raw: string;
  headers: http.IncomingHttpHeaders;
  signatureOk: boolean;
}

export async function startWebhookReceiver(secret: string, opts: { failFirst?: number } = {}) {
  const got: Received[] = [];
  let failing = opts.failFirst ?? 0;
  let attempts = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      attempts++;
      if (failing > 0) {
        failing--;
        res.statusCode = 503;
        res.end('try later');
        return;
      }
      // The check docs/alerts.md tells receivers to do.
      const sig = String(req.headers['x-sluice-signature'] ?? '');
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
      const want = m ? crypto.createHmac('sha256', secret).update(`${m[1]}.${raw}`).digest('hex') : '';
      const signatureOk = !!m && crypto.timingSafeEqual(Buffer.from(want), Buffer.from(m[2]));
      let body: unknown = null;
      try {
        body = JSON.parse(raw);
      } catch {
        /* recorded raw */
      }
      got.push({ path: req.url ?? '', body, raw, headers: req.headers, signatureOk });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    get attempts() {
      return attempts;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A local SMTP sink (smtp-server, no TLS, no auth): keeps every message it accepts. */
export async function startSmtpSink() {
  const mails: { from: string; to: string[]; raw: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (c) => {
        raw += c;
      });
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Subject line of a raw message (single-line subjects, as Sluice writes them). */
export const subjectOf = (raw: string) =>
  /^Subject: (.*(?:\r?\n[ \t].*)*)/m.exec(raw)?.[1].replace(/\r?\n[ \t]/g, ' ') ?? '';
