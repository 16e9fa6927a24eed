import type { Client } from '@elastic/elasticsearch';
import type { DestinationRowCounter } from '../module';
import { EsConfig, openClient } from './client';
import { indexName } from './mapping';

/**
 * Documents of the destination's indexes, for `verify`. Counts see what the index has refreshed
 * (within its refresh interval, 1 s by default): verify's retry over a few seconds covers that.
 */
export class EsDestinationCounter implements DestinationRowCounter {
  private constructor(private c: Client) {}
  static async open(cfg: EsConfig): Promise<EsDestinationCounter> {
    return new EsDestinationCounter(openClient(cfg, 1));
  }

  async count(table: string, liveOnly: boolean) {
    const query = liveOnly ? { bool: { must_not: { term: { _sluice_deleted: true } } } } : undefined;
    return (await this.c.count({ index: indexName(table), query })).count;
  }

  /** Append mode: keys whose latest document (highest `_sluice_offset`) is not a delete, by a composite aggregation over the keys. */
  async countLatest(table: string, keys: string[]) {
    const index = indexName(table);
    const mapping = await this.c.indices.getMapping({ index });
    const props: Record<string, { type?: string }> = Object.assign(
      {},
      ...Object.values(mapping).map((m) => (m as { mappings?: { properties?: object } }).mappings?.properties ?? {}),
    );
    // Text fields aggregate through their keyword sub-field.
    const field = (k: string) => (props[k]?.type === 'text' ? `${k}.keyword` : k);
    let n = 0;
    let after: Record<string, unknown> | undefined;
    for (;;) {
      const r = await this.c.search({
        index,
        size: 0,
        aggs: {
          keys: {
            composite: {
              size: 1000,
              sources: keys.map((k) => ({ [k]: { terms: { field: field(k) } } })),
              ...(after ? { after } : {}),
            },
            aggs: { last: { top_hits: { size: 1, sort: [{ _sluice_offset: 'desc' }], _source: ['_sluice_op'] } } },
          },
        },
      });
      const agg = (
        r.aggregations as {
          keys: {
            buckets: { last: { hits: { hits: { _source: { _sluice_op: string } }[] } } }[];
            after_key?: Record<string, unknown>;
          };
        }
      ).keys;
      for (const b of agg.buckets) if (b.last.hits.hits[0]?._source._sluice_op !== 'd') n++;
      if (!agg.buckets.length || !agg.after_key) return n;
      after = agg.after_key;
    }
  }

  async close() {
    await this.c.close().catch(() => undefined);
  }
}
