import crypto from 'node:crypto';
import nodemailer from 'nodemailer';

/** What every channel sends: one notification = one transition (firing or resolved) of one rule on one pipeline. */
export interface Notification {
  /** Unique per transition and stable across retries: receivers dedupe on it. */
  id: string;
  event: 'firing' | 'resolved';
  rule: { id: string; name: string; condition: string; threshold: number; for_seconds: number };
  pipeline: { id: string; name: string };
  value: string | null;
  reason: string | null;
  at: string;
  console_url: string | null;
}

const TIMEOUT_MS = 10_000;

/** Signature header value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"> (docs/alerts.md shows the check). */
export function signature(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

export function summary(n: Notification): string {
  const head = n.event === 'firing' ? `FIRING: ${n.rule.name}` : `RESOLVED: ${n.rule.name}`;
  const what = `pipeline ${n.pipeline.name}: ${n.rule.condition}${n.value !== null ? ` (${n.value})` : ''}`;
  return `${head} - ${what}${n.reason ? ` - ${n.reason}` : ''}`;
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'user-agent': 'sluice-alerts/1', ...headers },
    signal: AbortSignal.timeout(TIMEOUT_MS),
    redirect: 'error',
  });
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status} from the receiver`);
}

/**
 * Sends one notification through one channel (config with secrets decrypted). Throws on failure;
 * the caller retries with backoff. Errors never carry a secret (the caller scrubs them too).
 */
export async function send(kind: string, cfg: Record<string, any>, n: Notification): Promise<void> {
  if (kind === 'webhook') {
    const body = JSON.stringify(n);
    await post(cfg.webhook_url, body, {
      'x-sluice-signature': signature(cfg.webhook_secret, body),
      'x-sluice-notification-id': n.id,
      'x-sluice-event': n.event,
    });
  } else if (kind === 'slack') {
    const icon = n.event === 'firing' ? ':red_circle:' : ':large_green_circle:';
    await post(
      cfg.slack_webhook_url,
      JSON.stringify({ text: `${icon} ${summary(n)}${n.console_url ? ` <${n.console_url}|open>` : ''}` }),
      {},
    );
  } else if (kind === 'email') {
    const tls = cfg.smtp_tls ?? 'starttls';
    // nodemailer: the maintained SMTP client for Node (pooling, STARTTLS, AUTH), so no SMTP dialogue is hand-written here.
    const transport = nodemailer.createTransport({
      host: cfg.smtp_host,
      port: cfg.smtp_port ?? (tls === 'tls' ? 465 : 587),
      secure: tls === 'tls',
      requireTLS: tls === 'starttls',
      ignoreTLS: tls === 'none',
      auth: cfg.smtp_user ? { user: cfg.smtp_user, pass: cfg.smtp_password ?? '' } : undefined,
      connectionTimeout: TIMEOUT_MS,
      greetingTimeout: TIMEOUT_MS,
      socketTimeout: TIMEOUT_MS,
    });
    try {
      await transport.sendMail({
        from: cfg.email_from,
        to: cfg.email_to,
        subject: `[sluice] ${summary(n)}`.slice(0, 250),
        // A stable Message-ID per notification lets mail systems drop a resend after a crash.
        messageId: `<${n.id}@sluice.alerts>`,
        headers: { 'X-Sluice-Notification-Id': n.id, 'X-Sluice-Event': n.event },
        text: [
          summary(n),
          '',
          `rule: ${n.rule.name} (${n.rule.condition}, threshold ${n.rule.threshold}, for ${n.rule.for_seconds} s)`,
          `pipeline: ${n.pipeline.name} (${n.pipeline.id})`,
          `at: ${n.at}`,
          ...(n.console_url ? [`console: ${n.console_url}`] : []),
        ].join('\n'),
      });
    } finally {
      transport.close();
    }
  } else {
    throw new Error(`unknown channel kind ${kind}`);
  }
}

/** An error message with every secret value of the channel replaced, safe for the API and logs. */
export function scrub(message: string, cfg: Record<string, any>, secretFields: string[]): string {
  let m = message;
  for (const f of secretFields)
    if (typeof cfg[f] === 'string' && cfg[f].length >= 4) m = m.split(cfg[f]).join(`(${f})`);
  return m.slice(0, 1000);
}
