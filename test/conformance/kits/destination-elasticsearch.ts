// The elasticsearch destination in the conformance suite: the test stack's Elasticsearch (started
// once per run on first use), indexes named `<prefix>_<table>` per test so tests never share one.
import crypto from 'node:crypto';
import { LocalStack } from '../../../stack/stack';
import type { DestinationKit, Outage } from '.';

const esStack = new LocalStack({ log: () => undefined });
let started: Promise<string> | null = null;

/** The test stack's Elasticsearch (ELASTICSEARCH_URL when set), started once per process. */
export function startElasticsearch(): Promise<string> {
  started ??= (async () => {
    if (!process.env.ELASTICSEARCH_URL) await esStack.startService('elasticsearch');
    return esStack.endpointsOf('elasticsearch').elasticsearchUrl;
  })();
  return started;
}

/** Stopping it is an outage of every Elasticsearch test of the run (files run one at a time). */
const stackElasticsearch: Outage = {
  stop: () => esStack.stopService('elasticsearch'),
  start: () => esStack.startService('elasticsearch'),
};

/** One JSON request; a non-2xx answer throws with the body. */
export async function es(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const ndjson = Array.isArray(body);
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    body:
      body === undefined
        ? undefined
        : ndjson
          ? body.map((l) => JSON.stringify(l)).join('\n') + '\n'
          : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : null;
}

/** The kit's database URL is `<elasticsearch url>/<index prefix>`. */
const parse = (url: string) => {
  const u = new URL(url);
  return { base: u.origin, prefix: u.pathname.slice(1) };
};

/** Every document of an index (or alias), refreshed first: `_id` and `_source`. */
export async function allDocs(
  base: string,
  index: string,
): Promise<{ _id: string; _source: Record<string, unknown> }[]> {
  await es(base, 'POST', `/${index}/_refresh`);
  const out: { _id: string; _source: Record<string, unknown> }[] = [];
  let page = await es(base, 'POST', `/${index}/_search?scroll=1m`, { size: 5000, sort: ['_doc'] });
  try {
    while (page.hits.hits.length) {
      out.push(...page.hits.hits);
      page = await es(base, 'POST', '/_search/scroll', { scroll: '1m', scroll_id: page._scroll_id });
    }
  } finally {
    await es(base, 'DELETE', '/_search/scroll', { scroll_id: page._scroll_id }).catch(() => undefined);
  }
  return out;
}

async function deleteAll(base: string, index: string) {
  const docs = await allDocs(base, index);
  for (let i = 0; i < docs.length; i += 5000)
    await es(
      base,
      'POST',
      '/_bulk?refresh=true',
      docs.slice(i, i + 5000).map((d) => ({ delete: { _index: index, _id: d._id } })),
    );
}

const asText = (v: unknown) =>
  v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);

export const destinationElasticsearch: DestinationKit = {
  kind: 'elasticsearch',
  database: async (stoppable) => {
    const base = await startElasticsearch();
    const prefix = `dst_${crypto.randomBytes(4).toString('hex')}`;
    return {
      url: `${base}/${prefix}`,
      config: {
        url: base,
        table_name_format: `${prefix}_{table}`,
        number_of_replicas: 0,
        // Security is off on the test node, which ignores credentials: they are here for the check that
        // no credential reaches a log line (conformance.ts).
        username: 'sluice',
        password: `es-${crypto.randomBytes(12).toString('hex')}`,
      },
      outage: stoppable ? stackElasticsearch : undefined,
      destroy: async () => {
        if (stoppable) await stackElasticsearch.start().catch(() => undefined);
        const idx = (await es(base, 'GET', `/_cat/indices/${prefix}_*?format=json`).catch(() => [])) as {
          index: string;
        }[];
        if (idx.length) await es(base, 'DELETE', `/${idx.map((x) => x.index).join(',')}`).catch(() => undefined);
      },
    };
  },
  rows: async (url, table, cols, key, where) => {
    if (where) throw new Error('the elasticsearch kit reads whole indexes (no where clause)');
    const { base, prefix } = parse(url);
    const docs = await allDocs(base, `${prefix}_${table}`).catch((e) => {
      if (/index_not_found/.test(String(e))) return [];
      throw e;
    });
    const rows = docs.map((d) => Object.fromEntries(cols.map((c) => [c, asText(d._source[c])])));
    // In the text order rowsOf gives for the source (ORDER BY the text column, C collation).
    return rows.sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : String(a[key]) > String(b[key]) ? 1 : 0));
  },
  rejectNegative: async (url) => {
    // `v` as date_nanos: a negative number (epoch milliseconds before 1970) is rejected per document.
    // The fix is what one does with a wrong mapping: a new index with the right one, the documents
    // copied over, and the alias the destination writes to moved (atomically) onto it.
    const { base, prefix } = parse(url);
    const alias = `${prefix}_events`;
    const create = (index: string, v: string) =>
      es(base, 'PUT', `/${index}`, {
        settings: { number_of_replicas: 0 },
        mappings: { properties: { id: { type: 'integer' }, v: { type: v }, note: { type: 'text' } } },
      });
    await create(`${alias}_v1`, 'date_nanos');
    await es(base, 'POST', '/_aliases', { actions: [{ add: { index: `${alias}_v1`, alias } }] });
    return {
      rejects: (r) => r.v < 0,
      errorClasses: ['es_document_parsing_exception'],
      accept: async () => {
        await create(`${alias}_v2`, 'integer');
        const docs = await allDocs(base, `${alias}_v1`);
        for (let i = 0; i < docs.length; i += 5000) {
          await es(
            base,
            'POST',
            '/_bulk?refresh=true',
            docs.slice(i, i + 5000).flatMap((d) => [{ index: { _index: `${alias}_v2`, _id: d._id } }, d._source]),
          );
        }
        await es(base, 'POST', '/_aliases', {
          actions: [{ remove: { index: `${alias}_v1`, alias } }, { add: { index: `${alias}_v2`, alias } }],
        });
      },
    };
  },
  truncate: async (url, table) => {
    const { base, prefix } = parse(url);
    await deleteAll(base, `${prefix}_${table}`);
  },
};
