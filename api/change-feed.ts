import { Client } from 'pg';
import { Logger } from 'pino';

/** `id` is a row id, or '*' for "anything in this table" (TRUNCATE, import, lost feed). */
export type ChangeHandler = (table: string, id: string) => void;

const CHANNEL = 'sluice_changes';

/**
 * Tells this process about every committed change to the tables its caches hold, whoever made it:
 * one Postgres connection LISTENs on the channel that migration ChangeNotify's triggers NOTIFY on.
 * While that connection is down a notification could be missed, so `live` turns false (caches
 * stop storing and serve from the DB) and every subscriber is told that everything changed; the
 * same happens again once LISTEN is re-established. Writers in this process also announce their
 * commits here synchronously (`announce`), so their next read never waits for the NOTIFY round trip.
 */
export class ChangeFeed {
  live = false;
  private client?: Client;
  private readonly handlers: ChangeHandler[] = [];
  private closed = false;
  private retry?: NodeJS.Timeout;
  private ping?: NodeJS.Timeout;
  private backoffMs = 250;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  /** Returns the unsubscribe function. */
  subscribe(h: ChangeHandler): () => void {
    this.handlers.push(h);
    return () => {
      const i = this.handlers.indexOf(h);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  announce(table: string, id: string): void {
    for (const h of this.handlers) h(table, id);
  }

  /** Resolves after the first attempt; a failed one keeps retrying in the background (caches stay off). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: this.url, keepAlive: true, application_name: 'sluice-api-changes' });
    this.client = client;
    let dropped = false;
    const drop = (err?: Error) => {
      if (dropped) return;
      dropped = true;
      this.lost(err);
      client.end().catch(() => undefined);
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      const i = n.payload.indexOf(':');
      this.announce(n.payload.slice(0, i), n.payload.slice(i + 1));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      drop(e as Error);
      return;
    }
    if (dropped || this.closed) return;
    this.live = true;
    this.backoffMs = 250;
    // Anything loaded while the feed was down may be stale by now.
    this.announce('*', '*');
    // A silently dead connection (no FIN) would otherwise keep `live` true and caches stale.
    this.ping = setInterval(() => {
      client.query('SELECT 1').catch((e) => drop(e));
    }, 10_000);
    this.ping.unref();
  }

  private lost(err?: Error): void {
    const wasLive = this.live;
    this.live = false;
    clearInterval(this.ping);
    this.announce('*', '*');
    if (this.closed) return;
    if (wasLive || err)
      this.log.warn(
        { err: err ? { message: err.message } : undefined, retry_ms: this.backoffMs },
        'change feed (LISTEN) lost; read caches are off until it reconnects',
      );
    this.retry = setTimeout(() => {
      void this.connect();
    }, this.backoffMs);
    this.retry.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    clearTimeout(this.retry);
    clearInterval(this.ping);
    await this.client?.end().catch(() => undefined);
  }
}
