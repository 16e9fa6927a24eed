// The elasticsearch destination against the test stack's Elasticsearch 8: an index per table named
// by the template (lower-cased), mapped from the source types on first sight; documents by primary
// key through inserts, an update that leaves a TOASTed column out, a primary-key change, deletes and
// a truncate; append mode with its metadata; verify counting documents both ways; no secret in
// answers, exports or logs.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { q, Setup, setupPipeline, spawnWorker, teardown, waitFor, Worker } from './harness';
import { allDocs, es, startElasticsearch } from '../conformance/kits/destination-elasticsearch';

const tag = crypto.randomBytes(3).toString('hex');
const index = `es_${tag}_typed`;
const appendIndex = `es_${tag}_log_typed`;
const secrets = { password: `es-pw-${tag}`, api_key: `es-key-${tag}` };
const BIG = 'x'.repeat(20000) + tag;
let base = '';
let s: Setup;
let w: Worker;

const DDL = `CREATE TABLE typed (id int PRIMARY KEY, small smallint, big bigint, price numeric(12,2), ratio double precision,
  name varchar(40), body text, flag boolean, born date, at timestamptz, local_at timestamp, doc jsonb, raw bytea, uid uuid, tags int[], dur interval);
  ALTER TABLE typed ALTER COLUMN body SET STORAGE EXTERNAL;`;
const ROW1 = `(1, 7, 9007199254740993, 12.50, 0.25, 'first', '${BIG}', true, '2024-02-29', '2024-05-01 12:00:00.123456+02', '2024-05-01 12:00:00',
  '{"a": {"b": [1, 2]}}', '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,3}', '1 day 02:00:00')`;
const docs = async (idx: string) => new Map((await allDocs(base, idx).catch(() => [])).map((d) => [d._id, d._source]));

before(async () => {
  base = await startElasticsearch();
  s = await setupPipeline({
    ddl: DDL,
    destinationKind: 'elasticsearch',
    // Upper case in the template: index names come out lower-cased.
    destinationConfig: {
      url: base,
      table_name_format: `ES_${tag}_{table}`,
      number_of_replicas: 0,
      username: 'loader',
      ...secrets,
    },
  });
  w = spawnWorker(s.api);
});
after(async () => {
  await teardown(s, [w]);
  await es(base, 'DELETE', `/${index},${appendIndex}`).catch(() => undefined);
});

describe('elasticsearch destination', () => {
  it(
    'creates the index on first sight with a mapping from the source ' + 'types, documents keyed by primary key',
    async () => {
      await q(
        s.srcUrl,
        `INSERT INTO typed VALUES ${ROW1}, (2, NULL, NULL, NULL, NULL, 'second', 'short', false, NULL, NULL, NULL, 'null', NULL, NULL, NULL, NULL)`,
      );
      const got = await waitFor(
        '2 documents',
        async () => {
          const d = await docs(index);
          return d.size === 2 ? d : null;
        },
        60000,
        500,
      );
      const m = (await es(base, 'GET', `/${index}/_mapping`))[index].mappings.properties;
      const type = (f: string) =>
        m[f].type + (m[f].enabled === false ? ' (not indexed)' : '') + (m[f].fields?.keyword ? ' + keyword' : '');
      assert.deepEqual(
        Object.fromEntries(
          Object.keys(m)
            .sort()
            .map((f) => [f, type(f)]),
        ),
        {
          at: 'date',
          big: 'long',
          body: 'text + keyword',
          born: 'date',
          doc: 'object (not indexed)',
          dur: 'keyword',
          flag: 'boolean',
          id: 'integer',
          local_at: 'date',
          name: 'text + keyword',
          price: 'double',
          ratio: 'double',
          raw: 'binary',
          small: 'short',
          tags: 'keyword',
          uid: 'keyword',
        },
      );
      const one = got.get('1')!;
      assert.equal(one.big, '9007199254740993', 'beyond 2^53 the value stays exact (a string)');
      assert.equal(one.price, '12.50');
      assert.match(String(one.at), /^2024-05-01T\d\d:00:00\.123456[+-]\d\d:\d\d$/, 'ISO 8601 with the microseconds');
      assert.equal(new Date(String(one.at)).toISOString(), '2024-05-01T10:00:00.123Z');
      assert.equal(one.local_at, '2024-05-01T12:00:00');
      assert.deepEqual(one.doc, { a: { b: [1, 2] } });
      assert.equal(one.raw, Buffer.from([0, 255]).toString('base64'));
      assert.equal(one.tags, '{1,2,3}');
      assert.equal(one.body, BIG);
      assert.equal(got.get('2')!.doc, null, 'JSON null');
      // The index answers searches on the mapped fields.
      await es(base, 'POST', `/${index}/_refresh`);
      const hit = await es(base, 'POST', `/${index}/_search`, {
        query: { range: { at: { gte: '2024-05-01T09:00:00Z', lt: '2024-05-01T11:00:00Z' } } },
      });
      assert.deepEqual(
        hit.hits.hits.map((h: any) => h._id),
        ['1'],
      );
    },
  );

  it(
    'an update without the TOASTed column keeps it; a primary-key change ' +
      'moves the document; delete and truncate remove',
    async () => {
      await q(s.srcUrl, `UPDATE typed SET small = 8 WHERE id = 1`);
      await waitFor('update', async () => (await docs(index)).get('1')?.small === 8, 30000, 300);
      assert.equal((await docs(index)).get('1')!.body, BIG, 'the unchanged TOASTed value is still there');
      await q(s.srcUrl, `UPDATE typed SET id = 3 WHERE id = 2`);
      await waitFor(
        'key change',
        async () => {
          const d = await docs(index);
          return !d.has('2') && d.get('3')?.name === 'second';
        },
        30000,
        300,
      );
      await q(s.srcUrl, `DELETE FROM typed WHERE id = 3`);
      await waitFor('delete', async () => [...(await docs(index)).keys()].join() === '1', 30000, 300);
      const v = await waitFor(
        'verify passes',
        async () => {
          const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`);
          return r.body.pass ? r.body : null;
        },
        30000,
        1000,
      );
      assert.ok(
        v.checks.some((c: any) => c.check === 'row_count' && c.detail === 'source 1, destination 1'),
        JSON.stringify(v.checks),
      );
      await q(s.srcUrl, `TRUNCATE typed; INSERT INTO typed (id, name) VALUES (10, 'after truncate')`);
      await waitFor('truncate then insert', async () => [...(await docs(index)).keys()].join() === '10', 30000, 300);
    },
  );

  it(
    'append mode: a document per change with the metadata fields; verify ' +
      'counts the keys whose latest change is no delete',
    async () => {
      // A second source on the same database (own slot and topics) into an append-mode destination.
      const src = (await s.api.call('GET', `/v1/sources/${s.sourceId}`)).body.config;
      const su = new URL(s.srcUrl);
      const s2 = await s.api.call('POST', '/v1/sources', {
        name: `src2-${tag}`,
        kind: 'postgresql',
        config: {
          ...src,
          password: decodeURIComponent(su.password),
          slot_name: `es_append_${tag}`,
          publication_name: `es_append_${tag}`,
          topic_prefix: `esa${tag}`,
        },
      });
      assert.equal(s2.status, 201, s2.text);
      const d2 = await s.api.call('POST', '/v1/destinations', {
        name: `dst2-${tag}`,
        kind: 'elasticsearch',
        config: {
          url: base,
          table_name_format: `es_${tag}_log_{table}`,
          number_of_replicas: 0,
          ingestion_mode: 'append',
        },
      });
      assert.equal(d2.status, 201, d2.text);
      const p2 = await s.api.call('POST', '/v1/pipelines', {
        name: `p2-${tag}`,
        source_id: s2.body.id,
        destination_id: d2.body.id,
      });
      assert.equal(p2.status, 201, p2.text);
      await waitFor(
        'append pipeline Active',
        async () => (await s.api.call('GET', `/v1/pipelines/${p2.body.id}/status`)).body.state === 'Active',
        60000,
        500,
      );
      await q(
        s.srcUrl,
        "INSERT INTO typed (id, name) VALUES (20, 'a'), (21, 'b'); UPDATE " +
          "typed SET name = 'a2' WHERE id = 20; DELETE FROM typed WHERE id = 21",
      );
      // The initial snapshot adds `r` documents (row 10, and maybe 20/21 if it read them); the stream one per change.
      const changes = (d: Map<string, Record<string, unknown>>) =>
        [...d.values()]
          .filter((x) => x._sluice_op !== 'r')
          .map((x) => `${x.id}:${x._sluice_op}`)
          .sort()
          .join();
      const got = await waitFor(
        'the change documents',
        async () => {
          const d = await docs(appendIndex);
          return changes(d) === '20:c,20:u,21:c,21:d' ? d : null;
        },
        60000,
        500,
      );
      assert.ok(
        [...got.values()].some((x) => x.id === 10 && x._sluice_op === 'r'),
        'the snapshot row',
      );
      assert.ok(
        [...got.values()].every(
          (x) =>
            Number.isInteger(x._sluice_offset) &&
            typeof x._sluice_ingested_at === 'string' &&
            typeof x._sluice_source_ts === 'string',
        ),
      );
      const v = await waitFor(
        'append verify',
        async () => {
          const r = await s.api.call('GET', `/v1/pipelines/${p2.body.id}/verify`);
          return r.body.pass ? r.body : null;
        },
        30000,
        1000,
      ).catch(async () => (await s.api.call('GET', `/v1/pipelines/${p2.body.id}/verify`)).body);
      const n = (await q(s.srcUrl, 'SELECT count(*) AS n FROM typed'))[0].n;
      assert.ok(
        v.checks.some((c: any) => c.check === 'row_count' && c.detail === `source ${n}, destination ${n}`),
        JSON.stringify(v.checks),
      );
      await s.api.call('DELETE', `/v1/pipelines/${p2.body.id}`);
    },
  );

  it("no secret in the API's answers, exports or any log line", async () => {
    const d = await s.api.call('GET', `/v1/destinations/${s.destinationId}`);
    assert.equal(d.body.config.username, 'loader');
    assert.equal(d.body.config.password, undefined);
    assert.equal(d.body.config.api_key, undefined);
    const hcl = (await s.api.call('GET', '/v1/export?format=hcl')).text;
    assert.match(hcl, /api_key\s*=\s*var\./);
    const texts = [
      d.text,
      (await s.api.call('GET', '/v1/destinations')).text,
      (await s.api.call('GET', '/v1/export?format=json')).text,
      hcl,
      s.api.logLines.join('\n'),
      fs.readFileSync(w.logFile, 'utf8'),
    ];
    for (const t of texts) for (const v of Object.values(secrets)) assert.ok(!t.includes(v), 'a secret leaked');
  });
});
