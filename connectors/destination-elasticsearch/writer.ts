import type { Client } from '@elastic/elasticsearch';
import { ColumnInfo, Envelope } from '../../core/change-event';
import type { DestinationWriter, PartialWrite, WriterOpts } from '../module';
import {
  ClusterBusyError,
  DocumentRejectedError,
  EsConfig,
  esErrorClass,
  isEsConnectionError,
  openClient,
  TRANSIENT_STATUS,
} from './client';
import { docId, fieldFor, indexName, METADATA_FIELDS, toDoc } from './mapping';

/** One bulk action and the batch records it stands for (upsert mode merges a key's records into one action). */
interface Action {
  index: string;
  id?: string;
  op: 'index' | 'delete' | 'update' | 'merge';
  doc?: Record<string, unknown>;
  recs: number[];
}

/**
 * Elasticsearch destination: a batch becomes bulk requests (split only at truncates). In upsert mode
 * each document id gets one action per batch, the key's last state; when Elasticsearch rejects it,
 * every record of that key in the batch is reported rejected together (PartialWrite), so the sink
 * retries them in order and the rest of the bulk stands. Items refused for load (429, 503) make the
 * whole batch a connection error instead: everything is retried, and every action is idempotent
 * (ids are keys, or key + offset in append mode).
 */
export class ElasticsearchWriter implements DestinationWriter {
  private cfg: EsConfig;
  private client: Client;
  /** Top-level fields each index maps (read once, then kept up to date by our mapping updates); null: `dynamic: strict`, left alone. */
  private known = new Map<string, Set<string> | null>();

  constructor(private o: WriterOpts) {
    this.cfg = o.cfg as EsConfig;
    this.client = openClient(this.cfg, o.concurrency + 1);
  }

  async write(
    envs: Envelope[],
    offsets: string[],
    tableFor: (schema: string, table: string) => string,
  ): Promise<void | PartialWrite> {
    const indexes = envs.map((e) => indexName(tableFor(e.source.schema, e.source.table)));
    await this.ensureIndexes(envs, indexes);
    const rejected: PartialWrite['rejected'] = [];
    let from = 0;
    for (let i = 0; i <= envs.length; i++) {
      if (i < envs.length && envs[i].op !== 't') continue;
      // A truncate ends a bulk: what came before is applied first.
      rejected.push(...(await this.bulk(this.actions(envs, offsets, indexes, from, i))));
      if (i < envs.length) await this.truncate(indexes[i]);
      from = i + 1;
    }
    return rejected.length ? { rejected } : undefined;
  }

  // ---------- indexes and mappings ----------

  private async ensureIndexes(envs: Envelope[], indexes: string[]) {
    const cols = new Map<string, Map<string, ColumnInfo>>();
    envs.forEach((e, i) => {
      let m = cols.get(indexes[i]);
      if (!m) cols.set(indexes[i], (m = new Map()));
      for (const c of e.columns ?? []) m.set(c.name, c);
    });
    for (const [index, m] of cols) {
      let have = this.known.get(index);
      if (have === undefined) have = await this.readOrCreate(index, [...m.values()]);
      if (have === null) continue;
      const missing = [...m.values()].filter((c) => !have!.has(c.name));
      if (!missing.length) continue;
      await this.client.indices.putMapping({
        index,
        properties: Object.fromEntries(missing.map((c) => [c.name, fieldFor(c.type)])),
      });
      this.o.log.info({ index, fields: missing.map((c) => c.name) }, 'Elasticsearch fields mapped');
      for (const c of missing) have.add(c.name);
    }
  }

  /** The fields of an existing index (or alias), else a new index mapped from the source columns. */
  private async readOrCreate(index: string, columns: ColumnInfo[]): Promise<Set<string> | null> {
    const meta =
      this.o.mode === 'append' ? METADATA_FIELDS.append : this.cfg.hard_delete === false ? METADATA_FIELDS.soft : {};
    const properties = { ...Object.fromEntries(columns.map((c) => [c.name, fieldFor(c.type)])), ...meta };
    try {
      await this.client.indices.create({
        index,
        settings: {
          number_of_shards: this.cfg.number_of_shards ?? 1,
          number_of_replicas: this.cfg.number_of_replicas ?? 1,
        },
        mappings: { properties },
      });
      this.o.log.info({ index }, 'Elasticsearch index created');
      const have = new Set(Object.keys(properties));
      this.known.set(index, have);
      return have;
    } catch (e) {
      if (
        esErrorClass(e) !== 'es_resource_already_exists_exception' &&
        esErrorClass(e) !== 'es_invalid_index_name_exception'
      )
        throw e;
      if (esErrorClass(e) === 'es_invalid_index_name_exception') {
        // An alias of that name also answers "invalid index name" to a create: it exists, read it.
        const exists = await this.client.indices.exists({ index });
        if (!exists) throw e;
      }
    }
    // An existing index, or an alias over one or more: every field any of them maps.
    const m = await this.client.indices.getMapping({ index });
    const have = new Set<string>();
    let strict = false;
    for (const x of Object.values(m)) {
      const mappings = (x as { mappings?: { dynamic?: unknown; properties?: Record<string, unknown> } }).mappings ?? {};
      if (String(mappings.dynamic) === 'strict') strict = true;
      for (const f of Object.keys(mappings.properties ?? {})) have.add(f);
    }
    // `dynamic: strict` means its owner decides the fields: nothing is added, unmapped fields are rejected (DLQ).
    const r = strict ? null : have;
    this.known.set(index, r);
    return r;
  }

  // ---------- actions ----------

  private typeMaps = new WeakMap<ColumnInfo[], { types: Map<string, string>; keys: ColumnInfo[]; names: string[] }>();
  private shape(e: Envelope) {
    let s = this.typeMaps.get(e.columns);
    if (!s) {
      s = {
        types: new Map(e.columns.map((c) => [c.name, c.type])),
        keys: e.columns.filter((c) => c.key),
        names: e.columns.map((c) => c.name),
      };
      this.typeMaps.set(e.columns, s);
    }
    return s;
  }

  /** The bulk actions of records [from, to) (no truncate among them). */
  private actions(envs: Envelope[], offsets: string[], indexes: string[], from: number, to: number): Action[] {
    const append = this.o.mode === 'append';
    const soft = this.cfg.hard_delete === false;
    const out: Action[] = [];
    // Upsert mode: one action per (index, id), in the order of the key's last change.
    const byId = new Map<string, Action>();
    const put = (a: Action) => {
      const k = `${a.index}\u0000${a.id}`;
      const prev = byId.get(k);
      if (prev) {
        a.recs = [...prev.recs, ...a.recs];
        byId.delete(k);
      }
      byId.set(k, a);
    };
    for (let i = from; i < to; i++) {
      const e = envs[i];
      const s = this.shape(e);
      const index = indexes[i];
      const img = e.op === 'd' ? e.before : e.after;
      if (!img) continue;
      if (append) {
        const doc = toDoc(img, s.types);
        Object.assign(doc, {
          _sluice_op: e.op,
          _sluice_source_ts: new Date(e.source.ts_ms).toISOString(),
          _sluice_offset: Number(offsets[i]),
          _sluice_ingested_at: new Date().toISOString(),
        });
        // Stable ids: a redelivered change replaces itself. A key's changes stay in one partition, so key + offset is unique.
        const id = `${e.source.schema}.${e.source.table}:${s.keys.length ? `${docId(s.keys, img)}@` : '@'}${offsets[i]}`;
        out.push({ index, id, op: 'index', doc, recs: [i] });
        continue;
      }
      if (!s.keys.length) {
        // No primary key: nothing to merge on; inserts are appended (like the SQL destinations).
        if (e.op === 'c' || e.op === 'r') out.push({ index, op: 'index', doc: toDoc(img, s.types), recs: [i] });
        continue;
      }
      const id = docId(s.keys, img);
      if (e.op === 'd') {
        put(
          soft
            ? { index, id, op: 'update', doc: { ...keyDoc(s.keys, img, s.types), _sluice_deleted: true }, recs: [i] }
            : { index, id, op: 'delete', recs: [i] },
        );
        continue;
      }
      if (e.op === 'u' && e.before) {
        const old = docId(s.keys, e.before);
        if (old !== id && s.keys.every((k) => e.before![k.name] !== undefined))
          put({
            index,
            id: old,
            op: soft ? 'update' : 'delete',
            doc: soft ? { ...keyDoc(s.keys, e.before, s.types), _sluice_deleted: true } : undefined,
            recs: [i],
          });
      }
      const doc = toDoc(img, s.types);
      if (soft) doc._sluice_deleted = false;
      // An image without some columns (unchanged TOASTed values) is merged into the key's earlier image or the stored document.
      const partial = s.names.some((n) => img[n] === undefined);
      const prev = byId.get(`${index}\u0000${id}`);
      if (partial && prev && (prev.op === 'index' || prev.op === 'merge'))
        put({ index, id, op: prev.op, doc: { ...prev.doc, ...doc }, recs: [i] });
      else put({ index, id, op: partial ? 'merge' : 'index', doc, recs: [i] });
    }
    return [...out, ...byId.values()];
  }

  // ---------- applying ----------

  /** Runs the actions as one bulk request; the rejected documents' records come back, load refusals throw. */
  private async bulk(actions: Action[]): Promise<PartialWrite['rejected']> {
    if (!actions.length) return [];
    await this.resolveMerges(actions);
    const operations: unknown[] = [];
    for (const a of actions) {
      const meta = { _index: a.index, ...(a.id !== undefined ? { _id: a.id } : {}) };
      if (a.op === 'delete') operations.push({ delete: meta });
      else if (a.op === 'update') operations.push({ update: meta }, { doc: a.doc, doc_as_upsert: true });
      else operations.push({ index: meta }, a.doc);
    }
    const res = await this.client.bulk({ operations, refresh: false }, { requestTimeout: this.cfg.request_timeout_ms });
    if (!res.errors) return [];
    const rejected: PartialWrite['rejected'] = [];
    let busy: { status: number; reason: string } | null = null;
    res.items.forEach((item, n) => {
      const r = Object.values(item)[0]!;
      if (!r.error) return;
      if (TRANSIENT_STATUS.has(r.status)) {
        busy ??= { status: r.status, reason: `${r.error.type}: ${r.error.reason ?? ''}` };
        return;
      }
      const a = actions[n];
      if (r.error.type === 'index_not_found_exception') this.known.delete(a.index);
      const error = new DocumentRejectedError(r.error.type, r.error.reason ?? '', a.index, a.id);
      for (const i of a.recs) rejected.push({ index: i, error });
    });
    if (busy) {
      const b = busy as { status: number; reason: string };
      throw new ClusterBusyError(
        `Elasticsearch refused part of a bulk request for now (${b.status} ${b.reason})`,
        b.status,
      );
    }
    return rejected;
  }

  /** A `merge` action becomes an `index` of the stored document with the partial image over it (one mget for all of them). */
  private async resolveMerges(actions: Action[]) {
    const merges = actions.filter((a) => a.op === 'merge');
    if (!merges.length) return;
    const got = await this.client.mget({ docs: merges.map((a) => ({ _index: a.index, _id: a.id! })) });
    got.docs.forEach((d, n) => {
      const stored = 'found' in d && d.found ? (d._source as Record<string, unknown>) : {};
      merges[n].doc = { ...stored, ...merges[n].doc };
      merges[n].op = 'index';
    });
  }

  /**
   * A truncate: every document of the index is deleted (or flagged deleted). By scroll and bulk rather
   * than _delete_by_query, which needs the reindex module that not every distribution has.
   */
  private async truncate(index: string) {
    const soft = this.cfg.hard_delete === false;
    await this.client.indices.refresh({ index });
    let page = await this.client.search({ index, scroll: '1m', size: 1000, _source: false, sort: ['_doc'] });
    try {
      while (page.hits.hits.length) {
        const operations = page.hits.hits.flatMap((h): object[] =>
          soft
            ? [{ update: { _index: h._index, _id: h._id } }, { doc: { _sluice_deleted: true } }]
            : [{ delete: { _index: h._index, _id: h._id } }],
        );
        const res = await this.client.bulk({ operations });
        const failed = res.errors
          ? res.items.map((x) => Object.values(x)[0]!).find((x) => x.error && x.status !== 404)
          : undefined;
        if (failed)
          throw new ClusterBusyError(
            `truncate of ${index}: ${failed.error!.type}: ${failed.error!.reason ?? ''}`,
            failed.status,
          );
        page = await this.client.scroll({ scroll_id: page._scroll_id!, scroll: '1m' });
      }
    } finally {
      if (page._scroll_id) await this.client.clearScroll({ scroll_id: page._scroll_id }).catch(() => undefined);
    }
    this.o.log.info({ index }, 'Elasticsearch index emptied (truncate)');
  }

  isConnectionError(e: unknown) {
    return isEsConnectionError(e);
  }
  errorClass(e: unknown) {
    return esErrorClass(e);
  }
  async close() {
    await this.client.close().catch(() => undefined);
  }
}

/** The key fields of a row, converted: what a soft delete upserts. */
function keyDoc(keys: ColumnInfo[], row: Record<string, unknown>, types: Map<string, string>) {
  return toDoc(Object.fromEntries(keys.map((k) => [k.name, row[k.name]])), types);
}
