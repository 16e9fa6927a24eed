import { LRUCache } from 'lru-cache';

/**
 * Counts failed authentications per client address in a fixed window that starts at the first
 * failure; at `max` failures the address is refused (429) until the window ends. Hand-written rather
 * than express-rate-limit: only failures count, and the hot read path (hot-reads.ts), which bypasses
 * Express, must be able to ask synchronously whether any address is being refused.
 */
export class AuthFailures {
  private readonly windows: LRUCache<string, { count: number; until: number }>;
  private blockedUntil = 0;

  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {
    // Bounded: a flood from many addresses evicts the oldest windows instead of growing without end.
    this.windows = new LRUCache({ max: 100_000, ttl: windowMs, ttlAutopurge: false });
  }

  /** Milliseconds until `addr` may try again, 0 if it may now. */
  retryAfterMs(addr: string): number {
    const w = this.windows.get(addr);
    return w && w.count >= this.max ? Math.max(0, w.until - Date.now()) : 0;
  }

  fail(addr: string): void {
    const now = Date.now();
    let w = this.windows.get(addr);
    if (!w || w.until <= now) {
      w = { count: 0, until: now + this.windowMs };
      this.windows.set(addr, w, { ttl: this.windowMs });
    }
    w.count++;
    if (w.count >= this.max) this.blockedUntil = Math.max(this.blockedUntil, w.until);
  }

  /** True while some address may be refused: the hot path then leaves every request to Express. */
  get refusing(): boolean {
    return this.blockedUntil > Date.now();
  }
}
