import { LRUCache } from 'lru-cache';
import { ChangeFeed } from './change-feed';

/**
 * A process-local cache of values derived from one table, kept coherent by the ChangeFeed.
 * `scope: 'row'` drops just the changed row's key (values keyed by row id); `scope: 'table'`
 * drops everything on any change of the table (list pages, whose totals and order any row moves).
 *
 * A load that raced with a change must not be stored: it may have read the row before the change
 * committed. So each change bumps `generation`, and a load stores its value only if the
 * generation did not move while it ran (and the feed is live, i.e. no notification can be missed).
 */
export class CoherentCache<V extends object> {
  private readonly lru: LRUCache<string, V>;
  private generation = 0;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly table: string,
    private readonly scope: 'row' | 'table',
    opts: { maxBytes: number; sizeOf: (v: V) => number },
  ) {
    this.lru = new LRUCache<string, V>({ maxSize: opts.maxBytes, sizeCalculation: (v) => Math.max(1, opts.sizeOf(v)) });
    feed.subscribe((table, id) => {
      if (table !== '*' && table !== this.table) return;
      this.generation++;
      if (this.scope === 'row' && id !== '*') this.lru.delete(id);
      else this.lru.clear();
    });
  }

  /** The cached value, or `load()`'s (stored when safe). `undefined` (not found) is never cached. */
  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.lru.get(key);
    if (hit) return hit;
    const generation = this.generation;
    const v = await load();
    if (v !== undefined && this.feed.live && generation === this.generation) this.lru.set(key, v);
    return v;
  }

  /** A synchronous hit or undefined, for callers that take a faster path on a hit. */
  peek(key: string): V | undefined {
    return this.lru.get(key);
  }

  get size(): number {
    return this.lru.size;
  }
}
