import { loadConn, LoadConn, sleep } from '../../test/dataplane/harness';
import { Rng } from './rng';

/** The soak's table on either source kind; ids are chosen by the load generator. */
export const ITEMS_DDL = {
  postgresql: 'CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL, note text)',
  mysql: 'CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL, note varchar(200))',
};
/** One row whose `seq` the soak bumps after each fault to see when the pipeline has caught up. */
export const PROBE_DDL = 'CREATE TABLE soak_probe (id int PRIMARY KEY, seq bigint NOT NULL)';

export interface LoadStats {
  transactions: number;
  statements: number;
  largeTransactions: number;
  largestTransaction: number;
  /** Transactions that failed (outages); their outcome does not matter, the final states are compared. */
  errors: number;
  lastError: string | null;
}

/**
 * Steady mixed write load on `items` from one connection: small transactions of inserts, updates
 * (single rows and short ranges), deletes, primary-key changes and NULL notes, `txPerSecond` of them,
 * and now and then one large transaction (thousands of rows inserted, updated and deleted at once).
 * Ids come from a counter, so no insert ever collides with an earlier one whatever an outage did to
 * the transaction in flight; updates and deletes pick ids at random (some are gone: a no-op).
 * Survives outages: a failed transaction is counted and the connection rebuilt.
 */
export class MixedLoad {
  readonly stats: LoadStats = {
    transactions: 0,
    statements: 0,
    largeTransactions: 0,
    largestTransaction: 0,
    errors: 0,
    lastError: null,
  };
  private nextId = 1;
  private stopped = false;
  private done: Promise<void> | null = null;
  private nextLargeAt: number;

  constructor(
    private readonly url: string,
    private readonly rng: Rng,
    private readonly opts: { txPerSecond: number; largeEveryMs: [number, number]; largeRows: [number, number] },
  ) {
    this.nextLargeAt = Date.now() + rng.between(...opts.largeEveryMs) / 2;
  }

  start(): void {
    this.done ??= this.loop();
  }

  async stop(): Promise<LoadStats> {
    this.stopped = true;
    await this.done;
    return this.stats;
  }

  private async loop(): Promise<void> {
    let c: LoadConn | null = null;
    const every = 1000 / this.opts.txPerSecond;
    while (!this.stopped) {
      const t0 = Date.now();
      try {
        c ??= await loadConn(this.url);
        const large = Date.now() >= this.nextLargeAt;
        const statements = large ? this.largeTransaction() : this.smallTransaction();
        await c.query('BEGIN');
        for (const [sql, params] of statements) await c.query(sql, params);
        await c.query('COMMIT');
        this.stats.transactions++;
        this.stats.statements += statements.length;
        if (large) {
          this.stats.largeTransactions++;
          this.nextLargeAt = Date.now() + this.rng.between(...this.opts.largeEveryMs);
        }
      } catch (e) {
        this.stats.errors++;
        this.stats.lastError = (e as Error).message;
        await c?.end().catch(() => undefined);
        c = null;
        await sleep(500);
      }
      await sleep(Math.max(0, every - (Date.now() - t0)));
    }
    await c?.end().catch(() => undefined);
  }

  private note(): string | null {
    return this.rng.chance(0.05) ? null : `n${this.rng.int(1_000_000)}`;
  }

  /** An id that was inserted at some point (it may have been deleted or moved since). */
  private someId(): number {
    return 1 + this.rng.int(Math.max(1, this.nextId - 1));
  }

  private smallTransaction(): [string, unknown[]][] {
    const out: [string, unknown[]][] = [];
    for (let n = 1 + this.rng.int(6); n > 0; n--) {
      const r = this.rng.next();
      const insert = () => [this.nextId++, this.rng.int(1_000_000), this.note()];
      if (r < 0.55) out.push(['INSERT INTO items (id, v, note) VALUES ($1, $2, $3)', insert()]);
      else if (r < 0.75)
        out.push(['UPDATE items SET v = v + 1, note = $1 WHERE id = $2', [this.note(), this.someId()]]);
      else if (r < 0.85) {
        const from = this.someId();
        out.push([
          'UPDATE items SET v = (v * 3 + 1) % 1000003 WHERE id BETWEEN $1 AND $2',
          [from, from + this.rng.int(20)],
        ]);
      } else if (r < 0.97) out.push(['DELETE FROM items WHERE id = $1', [this.someId()]]);
      // A primary-key change: the sink must delete the old key and write the new one.
      else out.push(['UPDATE items SET id = $1 WHERE id = $2', [this.nextId++, this.someId()]]);
    }
    return out;
  }

  private largeTransaction(): [string, unknown[]][] {
    const rows = Math.round(this.rng.between(...this.opts.largeRows));
    this.stats.largestTransaction = Math.max(this.stats.largestTransaction, rows);
    const out: [string, unknown[]][] = [];
    const first = this.nextId;
    for (let left = rows; left > 0; left -= 500) {
      const n = Math.min(500, left);
      const values: string[] = [];
      const params: unknown[] = [];
      for (let i = 0; i < n; i++) {
        values.push(`($${params.length + 1}, $${params.length + 2}, $${params.length + 3})`);
        params.push(this.nextId++, this.rng.int(1_000_000), this.note());
      }
      out.push([`INSERT INTO items (id, v, note) VALUES ${values.join(', ')}`, params]);
    }
    // Rewrite half of what it inserted and a range of older rows, delete a tenth: one commit.
    const half = first + Math.floor(rows / 2);
    out.push(['UPDATE items SET v = v + 7, note = $1 WHERE id BETWEEN $2 AND $3', [`big${first}`, first, half]]);
    const older = this.someId();
    out.push(['UPDATE items SET v = v - 3 WHERE id BETWEEN $1 AND $2', [older, older + Math.floor(rows / 4)]]);
    out.push(['DELETE FROM items WHERE id BETWEEN $1 AND $2', [half, half + Math.floor(rows / 10)]]);
    return out;
  }
}
