import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { collections, connectorSpecs } from '../connectors';
import { pipelineSpec } from '../core/pipeline-spec';
import { sampleConfigs, startTestApi, TestApi } from './helpers';

/**
 * Bad input never reaches the database: text Postgres cannot store (NUL) or that is not Unicode
 * (an unpaired surrogate) in any string of any body or query, numbers beyond the documented bounds,
 * and methods a path does not have. Each is a 4xx naming the field, and nothing changes.
 */

let api: TestApi;
before(async () => {
  api = await startTestApi();
});
after(async () => {
  await api?.close();
});

// As JSON text: JSON.stringify would escape the surrogate the same way, but NUL must stay a real \u0000 escape too.
const BAD = { nul: 'a\\u0000b', surrogate: 'x\\ud800y' };
const send = (method: string, p: string, json: string) =>
  api.call(method, p, json, { 'content-type': 'application/json' });
const objects = async () =>
  Number(
    (
      await api.ds.query(
        'SELECT (SELECT count(*) FROM connectors) + (SELECT count(*) FROM ' +
          'pipelines) + (SELECT count(*) FROM api_tokens) AS n',
      )
    )[0].n,
  );

async function refused(method: string, p: string, json: string, field: string) {
  const before = await objects();
  const r = await send(method, p, json);
  assert.equal(r.status, 400, `${method} ${p} ${json}: ${r.text}`);
  assert.equal(r.headers.get('content-type'), 'application/problem+json');
  assert.ok(
    r.body.errors.some((e: { field: string }) => e.field === field),
    `errors ${r.text} lack ${field}`,
  );
  assert.match(r.body.detail, /NUL|unpaired surrogate/);
  assert.equal(await objects(), before, 'nothing changed');
  assert.deepEqual(
    api.logLines.filter((l) => /"level":50/.test(l)),
    [],
    'no error logged',
  );
}

/** A body as JSON text with `marker` (a JSON string literal) replaced by bad text. */
const withBad = (body: unknown, bad: string) =>
  JSON.stringify(body).replace('"@BAD@"', `"${bad}"`).replace('"@BADKEY@"', `"${bad}"`);

describe('NUL and unpaired surrogates are refused with a 400 naming the field', () => {
  for (const [what, bad] of Object.entries(BAD)) {
    it(`${what}: every string field of every connector kind`, async () => {
      let n = 0;
      for (const spec of connectorSpecs) {
        const path = `/v1/${collections[spec.category]}`;
        for (const [k, f] of Object.entries(spec.fields)) {
          const base = {
            name: `bad-${spec.kind}-${k}`,
            kind: spec.kind,
            config: { ...sampleConfigs[`${spec.category}/${spec.kind}`] } as Record<string, unknown>,
          };
          if (f.type === 'string') {
            base.config[k] = '@BAD@';
            await refused('POST', path, withBad(base, bad), `config.${k}`);
            n++;
          }
          if (f.type === 'list') {
            base.config[k] = ['fine', '@BAD@'];
            await refused('POST', path, withBad(base, bad), `config.${k}[1]`);
            n++;
          }
          if (f.type === 'map') {
            base.config[k] = { fine: '@BAD@' };
            await refused('POST', path, withBad(base, bad), `config.${k}.fine`);
            base.config[k] = { '@BADKEY@': 'fine' };
            await refused('POST', path, withBad(base, bad), `config.${k}.${JSON.stringify(JSON.parse(`"${bad}"`))}`);
            n += 2;
          }
        }
      }
      assert.ok(n > 40, `${n} fields`);
    });

    it(`${what}: names, tags, pipelines, snapshots, tokens, imports and query parameters`, async () => {
      const src = await api.call('POST', '/v1/sources', {
        name: `ok-src-${what}`,
        kind: 'postgresql',
        config: sampleConfigs['source/postgresql'],
      });
      const dst = await api.call('POST', '/v1/destinations', {
        name: `ok-dst-${what}`,
        kind: 'postgresql',
        config: sampleConfigs['destination/postgresql'],
      });
      const pipe = await api.call('POST', '/v1/pipelines', {
        name: `ok-pipe-${what}`,
        source_id: src.body.id,
        destination_id: dst.body.id,
      });
      assert.equal(pipe.status, 201, pipe.text);
      const source = { name: 'n', kind: 'postgresql', config: sampleConfigs['source/postgresql'] };
      await refused('POST', '/v1/sources', withBad({ ...source, name: '@BAD@' }, bad), 'name');
      await refused('POST', '/v1/sources', withBad({ ...source, tags: { team: '@BAD@' } }, bad), 'tags.team');
      await refused('PATCH', `/v1/sources/${src.body.id}`, withBad({ config: { host: '@BAD@' } }, bad), 'config.host');
      await refused(
        'PUT',
        `/v1/destinations/${dst.body.id}`,
        withBad(
          { name: 'd', kind: 'postgresql', config: { ...sampleConfigs['destination/postgresql'], schema: '@BAD@' } },
          bad,
        ),
        'config.schema',
      );
      const pipeline = { name: 'p', source_id: src.body.id, destination_id: dst.body.id };
      for (const [k, f] of Object.entries(pipelineSpec.fields)) {
        if (f.type !== 'list' || f.references) continue;
        await refused('POST', '/v1/pipelines', withBad({ ...pipeline, [k]: ['@BAD@'] }, bad), `${k}[0]`);
      }
      await refused('POST', '/v1/pipelines', withBad({ ...pipeline, name: '@BAD@' }, bad), 'name');
      await refused(
        'PATCH',
        `/v1/pipelines/${pipe.body.id}`,
        withBad({ tags: { '@BADKEY@': 'v' } }, bad),
        `tags.${JSON.stringify(JSON.parse(`"${bad}"`))}`,
      );
      await refused(
        'POST',
        `/v1/pipelines/${pipe.body.id}/snapshots`,
        withBad({ tables: ['public.orders'], filter: '@BAD@' }, bad),
        'filter',
      );
      await refused(
        'POST',
        `/v1/pipelines/${pipe.body.id}/snapshots`,
        withBad({ tables: ['@BAD@'] }, bad),
        'tables[0]',
      );
      await refused('POST', '/v1/tokens', withBad({ name: '@BAD@', role: 'viewer' }, bad), 'name');
      await refused(
        'POST',
        '/v1/import?dry_run=true',
        withBad({ format: 'sluice/v1', sources: [{ ...source, config: { ...source.config, user: '@BAD@' } }] }, bad),
        'sources[0].config.user',
      );
      await refused('POST', '/v1/import', withBad({ format: 'sluice/v1', secrets: { v: '@BAD@' } }, bad), 'secrets.v');
      // A URL cannot carry an unpaired surrogate (percent-encoding is UTF-8), only NUL.
      const raw = what === 'nul' ? '%00' : '';
      for (const p of raw
        ? [
            `/v1/sources?name=${raw}`,
            `/v1/pipelines?name=${raw}`,
            `/v1/pipelines/${pipe.body.id}/dlq?status=${raw}`,
            `/v1/audit?object_id=${raw}`,
          ]
        : []) {
        const r = await api.call('GET', p);
        assert.equal(r.status, 400, `${p}: ${r.text}`);
        assert.ok(r.body.errors[0].field, r.text);
      }
      assert.deepEqual(
        api.logLines.filter((l) => /"level":50/.test(l)),
        [],
      );
    });
  }
});

describe('numbers are bounded', () => {
  it(
    'every integer query parameter of the document refuses values beyond ' + 'its bounds (no "bigint out of range")',
    async () => {
      const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as {
        paths: Record<
          string,
          Record<string, { parameters?: { name: string; in: string; schema: { type: string; maximum?: number } }[] }>
        >;
      };
      let n = 0;
      for (const [p, item] of Object.entries(doc.paths)) {
        for (const [m, op] of Object.entries(item)) {
          for (const q of op.parameters ?? []) {
            if (q.in !== 'query' || q.schema.type !== 'integer') continue;
            assert.ok(q.schema.maximum !== undefined, `${m} ${p} ?${q.name} has no maximum`);
            const url = p.replace(/\{\w+\}/g, () => crypto.randomUUID());
            for (const v of [
              '10000000000000000001',
              '-10000000000000000001',
              '1.5',
              'abc',
              String(q.schema.maximum + 1),
            ]) {
              const r = await api.call(m.toUpperCase(), `${url}?${q.name}=${v}`);
              assert.equal(r.status, 400, `${m} ${p}?${q.name}=${v}: ${r.text}`);
              assert.equal(r.body.errors[0].field, q.name);
              n++;
            }
          }
        }
      }
      assert.ok(n >= 30, `${n} cases`);
      const ids = await api.call('POST', `/v1/pipelines/${crypto.randomUUID()}/dlq/replay`, { ids: [1e20] });
      assert.equal(ids.status, 400, ids.text);
    },
  );
});

/** node:http, since fetch refuses TRACE. */
function raw(method: string, p: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(api.url + p, { method, headers: { authorization: `Bearer ${api.token}` } }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('methods', () => {
  it('a method a documented path lacks is 405 with Allow; OPTIONS lists the methods', async () => {
    const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const [p, item] of Object.entries(doc.paths)) {
      const url = p.replace(/\{\w+\}/g, () => crypto.randomUUID());
      const methods = Object.keys(item).map((m) => m.toUpperCase());
      const missing = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE'].filter((m) => !methods.includes(m));
      for (const m of [...missing, 'OPTIONS']) {
        const r = await raw(m, url);
        assert.equal(r.status, m === 'OPTIONS' ? 204 : 405, `${m} ${p}: ${r.status}`);
        const allow = String(r.headers.allow).split(', ');
        for (const d of methods) assert.ok(allow.includes(d), `${m} ${p}: Allow ${allow} lacks ${d}`);
        if (m !== 'OPTIONS') assert.equal(JSON.parse(r.body).status, 405);
      }
    }
  });
});
