import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { collections, connectorSpecs, secretFields } from '../connectors';
import { sampleConfigs, startTestApi, TestApi } from './helpers';

let api: TestApi;
before(async () => {
  api = await startTestApi();
});
after(async () => {
  await api.close();
});

const path = (category: string) => `/v1/${collections[category as 'source']}`;

async function create(category: string, kind: string, name: string, config = sampleConfigs[`${category}/${kind}`]) {
  const r = await api.call('POST', path(category), { name, kind, config });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

describe('connector CRUD for every declared kind', () => {
  it('has a sample config for every kind (add one when you add a kind)', () => {
    for (const s of connectorSpecs)
      assert.ok(sampleConfigs[`${s.category}/${s.kind}`], `no sample for ${s.category}/${s.kind}`);
  });

  for (const spec of connectorSpecs) {
    it(`${spec.category} ${spec.kind}: create, read, list, replace, patch, delete`, async () => {
      const sample = sampleConfigs[`${spec.category}/${spec.kind}`];
      const name = `crud-${spec.category}-${spec.kind}`;
      const created = await create(spec.category, spec.kind, name);
      assert.equal(created.name, name);
      assert.equal(created.kind, spec.kind);
      assert.equal(created.version, 1);
      for (const f of secretFields(spec)) assert.ok(!(f in created.config), `secret ${f} returned`);
      // Defaults are applied and returned.
      for (const [k, f] of Object.entries(spec.fields)) {
        if (f.sensitive) continue;
        const expected = k in sample ? sample[k] : (f.default ?? null);
        assert.deepEqual(created.config[k], expected, `config.${k}`);
      }

      const got = await api.call('GET', `${path(spec.category)}/${created.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, created);
      assert.equal(got.headers.get('etag'), '"1"');

      const list = await api.call('GET', `${path(spec.category)}?name=${encodeURIComponent(name)}`);
      assert.equal(list.body.total, 1);
      assert.equal(list.body.items[0].id, created.id);

      const replaced = await api.call('PUT', `${path(spec.category)}/${created.id}`, {
        name: name + '-v2',
        kind: spec.kind,
        config: sample,
        tags: { team: 'data' },
      });
      assert.equal(replaced.status, 200, replaced.text);
      assert.equal(replaced.body.name, name + '-v2');
      assert.equal(replaced.body.version, 2);
      assert.deepEqual(replaced.body.tags, { team: 'data' });

      const patched = await api.call('PATCH', `${path(spec.category)}/${created.id}`, { tags: { team: 'ops' } });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.version, 3);
      assert.deepEqual(patched.body.config, replaced.body.config);

      const del = await api.call('DELETE', `${path(spec.category)}/${created.id}`);
      assert.equal(del.status, 204);
      assert.equal((await api.call('GET', `${path(spec.category)}/${created.id}`)).status, 404);
    });
  }

  it('PATCH merges config and null resets a field to its default', async () => {
    const s = await create('source', 'postgresql', 'patch-merge');
    const p1 = await api.call('PATCH', `/v1/sources/${s.id}`, { config: { port: 6543, heartbeat_interval_ms: 5000 } });
    assert.equal(p1.status, 200, p1.text);
    assert.equal(p1.body.config.port, 6543);
    assert.equal(p1.body.config.host, '127.0.0.1');
    const p2 = await api.call('PATCH', `/v1/sources/${s.id}`, { config: { port: null } });
    assert.equal(p2.body.config.port, 5432);
    assert.equal(p2.body.config.heartbeat_interval_ms, 5000);
    // A no-op patch does not bump the version.
    const p3 = await api.call('PATCH', `/v1/sources/${s.id}`, { config: { port: 5432 } });
    assert.equal(p3.body.version, p2.body.version);
  });
});

describe('validation names the field', () => {
  const cases: [string, string, unknown, string][] = [
    ['source', 'postgresql missing host', { kind: 'postgresql', config: { database: 'd', user: 'u' } }, 'config.host'],
    [
      'source',
      'postgresql port out of range',
      { kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u', port: 70000 } },
      'config.port',
    ],
    [
      'source',
      'postgresql port as string',
      { kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u', port: '5432' } },
      'config.port',
    ],
    [
      'source',
      'postgresql bad tls_mode',
      { kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u', tls_mode: 'maybe' } },
      'config.tls_mode',
    ],
    [
      'source',
      'postgresql bad slot name',
      { kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u', slot_name: 'Bad-Slot' } },
      'config.slot_name',
    ],
    [
      'source',
      'postgresql unknown config field',
      { kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u', hots: 'x' } },
      'config.hots',
    ],
    [
      'source',
      'mysql list item not a string',
      { kind: 'mysql', config: { host: 'h', user: 'u', database_include: [1] } },
      'config.database_include',
    ],
    ['source', 'unknown kind', { kind: 'oracle', config: {} }, 'kind'],
    [
      'source',
      'missing name',
      { kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u' }, name: undefined },
      'name',
    ],
    [
      'source',
      'control character in name',
      { name: 'a\u0001b', kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u' } },
      'name',
    ],
    [
      'source',
      'unknown top-level field',
      { name: 'x', kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u' }, colour: 'red' },
      'colour',
    ],
    [
      'destination',
      'bad batch_size',
      { kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u', batch_size: 0 } },
      'config.batch_size',
    ],
    [
      'destination',
      'table_name_format without {table}',
      { kind: 'postgresql', config: { host: 'h', database: 'd', user: 'u', table_name_format: 'fixed' } },
      'config.table_name_format',
    ],
    [
      'transform',
      'rename mappings not strings',
      { kind: 'rename_fields', config: { mappings: { a: 1 } } },
      'config.mappings',
    ],
    [
      'transform',
      'filter bad operator',
      { kind: 'filter_rows', config: { column: 'c', operator: 'like' } },
      'config.operator',
    ],
    [
      'transform',
      'map_filter timeout too high',
      { kind: 'map_filter', config: { code: 'x', timeout_ms: 999999 } },
      'config.timeout_ms',
    ],
    ['transform', 'tags not strings', { kind: 'drop_fields', config: { fields: ['a'] }, tags: { a: 1 } }, 'tags'],
  ];
  for (const [category, title, body, field] of cases) {
    it(`${category}: ${title} -> 400 naming ${field}`, async () => {
      const b = { name: `v-${crypto.randomBytes(3).toString('hex')}`, ...(body as object) };
      const before = await api.call('GET', path(category));
      const r = await api.call('POST', path(category), b);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assert.equal(r.body.status, 400);
      assert.ok(
        r.body.errors.some((e: { field: string }) => e.field === field),
        `errors ${JSON.stringify(r.body.errors)} lack ${field}`,
      );
      assert.match(r.body.detail, new RegExp(field.replace(/[.[\]]/g, '\\$&')));
      // Bad input changes nothing.
      assert.equal((await api.call('GET', path(category))).body.total, before.body.total);
    });
  }

  it('pipeline: unknown source id, wrong category and bad delivery are named', async () => {
    const d = await create('destination', 'postgresql', 'val-dest');
    const t = await create('transform', 'drop_fields', 'val-t');
    const r = await api.call('POST', '/v1/pipelines', {
      name: 'bad-pipe',
      source_id: crypto.randomUUID(),
      destination_id: t.id,
      transform_ids: [d.id],
      delivery: { max_retries: -1, backoff_initial_ms: 10 },
    });
    assert.equal(r.status, 400, r.text);
    const fields = r.body.errors.map((e: { field: string }) => e.field);
    assert.ok(fields.includes('delivery.max_retries'), JSON.stringify(fields));
    // A well-formed body whose references point at nothing (or at the wrong kind) conflicts with what is stored.
    const r2 = await api.call('POST', '/v1/pipelines', {
      name: 'bad-pipe',
      source_id: crypto.randomUUID(),
      destination_id: t.id,
      transform_ids: [d.id],
    });
    assert.equal(r2.status, 409, r2.text);
    const fields2 = r2.body.errors.map((e: { field: string }) => e.field);
    assert.deepEqual(fields2.sort(), ['destination_id', 'source_id', 'transform_ids[0]']);
    assert.match(
      r2.body.errors.find((e: { field: string }) => e.field === 'destination_id').message,
      /is a transform, not a destination/,
    );
    const r3 = await api.call('POST', '/v1/pipelines', { name: 'bad-pipe', source_id: 'nope', destination_id: d.id });
    assert.ok(r3.body.errors.some((e: { field: string }) => e.field === 'source_id'));
  });
});

describe('auth', () => {
  it('401 without a token, with a wrong token and with a malformed header', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: 'Basic abc' }] as Record<
      string,
      string
    >[]) {
      const res = await fetch(api.url + '/v1/sources', { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      const body = (await res.json()) as { status: number };
      assert.equal(body.status, 401);
    }
  });

  it('stores tokens only as SHA-256 hashes', async () => {
    const rows: { token_hash: string }[] = await api.ds.query('SELECT token_hash FROM api_tokens');
    assert.ok(rows.length >= 1);
    assert.ok(rows.every((r) => r.token_hash !== api.token && /^[0-9a-f]{64}$/.test(r.token_hash)));
    assert.ok(rows.some((r) => r.token_hash === crypto.createHash('sha256').update(api.token).digest('hex')));
    const dump = JSON.stringify(await api.ds.query('SELECT * FROM api_tokens'));
    assert.ok(!dump.includes(api.token));
  });

  it('health, metrics and OpenAPI need no token; OpenAPI is derived from the declarations', async () => {
    assert.equal((await fetch(api.url + '/healthz')).status, 200);
    const metrics = await (await fetch(api.url + '/metrics')).text();
    assert.match(metrics, /sluice_http_request_duration_seconds_bucket/);
    assert.match(metrics, /sluice_objects\{type="source"\}/);
    const doc = (await (await fetch(api.url + '/openapi.json')).json()) as any;
    for (const s of connectorSpecs) {
      const name = [s.category, ...s.kind.split('_')].map((w) => w[0].toUpperCase() + w.slice(1)).join('');
      const input = doc.components.schemas[`${name}Input`]?.properties.config;
      assert.ok(input, `no schema ${name}Input`);
      assert.deepEqual(Object.keys(input.properties), Object.keys(s.fields));
      for (const f of secretFields(s)) assert.equal(input.properties[f].writeOnly, true);
      // Responses never carry secrets.
      assert.deepEqual(
        Object.keys(doc.components.schemas[`${name}Config`].properties),
        Object.keys(s.fields).filter((f) => !s.fields[f].sensitive),
      );
    }
    assert.ok(doc.paths['/v1/pipelines/{id}']);
  });
});

describe('secrets', () => {
  it('never appear in responses, exports, audit, logs or the database in clear', async () => {
    const secret = `S3cr3t-${crypto.randomBytes(8).toString('hex')}`;
    const salt = `Salt-${crypto.randomBytes(8).toString('hex')}`;
    const s = await create('source', 'postgresql', 'secret-src', {
      host: 'h',
      database: 'd',
      user: 'u',
      password: secret,
    });
    const t = await create('transform', 'mask_fields', 'secret-mask', { fields: ['email'], salt });
    const patched = await api.call('PATCH', `/v1/sources/${s.id}`, { config: { password: secret + 'x' } });
    assert.equal(patched.body.version, 2, 'changing only a secret is a change');
    const bad = await api.call('POST', '/v1/sources', {
      name: 'secret-bad',
      kind: 'postgresql',
      config: { host: 'h', database: 'd', user: 'u', password: secret, port: 'x' },
    });
    assert.equal(bad.status, 400);
    const texts = [
      JSON.stringify(s),
      patched.text,
      bad.text,
      (await api.call('GET', `/v1/sources/${s.id}`)).text,
      (await api.call('GET', '/v1/sources')).text,
      (await api.call('GET', `/v1/transforms/${t.id}`)).text,
      (await api.call('GET', '/v1/export?format=json')).text,
      (await api.call('GET', '/v1/export?format=hcl')).text,
      (await api.call('GET', '/v1/audit')).text,
      api.logLines.join('\n'),
      JSON.stringify(await api.ds.query('SELECT * FROM connectors')),
      JSON.stringify(await api.ds.query('SELECT * FROM audit_log')),
    ];
    assert.ok(api.logLines.length > 0, 'logs were captured');
    for (const t of texts) {
      assert.ok(!t.includes(secret), 'secret leaked');
      assert.ok(!t.includes(salt), 'salt leaked');
    }
    // PUT without the secret keeps it (write-only fields are not echoed back by clients).
    const put = await api.call('PUT', `/v1/sources/${s.id}`, {
      name: 'secret-src',
      kind: 'postgresql',
      config: { host: 'h2', database: 'd', user: 'u' },
    });
    assert.equal(put.status, 200, put.text);
    const row = (await api.ds.query('SELECT secrets FROM connectors WHERE id = $1', [s.id]))[0];
    assert.match(row.secrets.password, /^v1:/);
  });
});

describe('concurrency, conflicts, pagination', () => {
  it('412 on a stale If-Match, and the object is unchanged', async () => {
    const s = await create('source', 'postgresql', 'ifmatch');
    const ok = await api.call('PATCH', `/v1/sources/${s.id}`, { config: { port: 1111 } }, { 'if-match': '"1"' });
    assert.equal(ok.status, 200);
    const stale = await api.call('PATCH', `/v1/sources/${s.id}`, { config: { port: 2222 } }, { 'if-match': '"1"' });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.current_version, 2);
    assert.equal((await api.call('GET', `/v1/sources/${s.id}`)).body.config.port, 1111);
    assert.equal((await api.call('DELETE', `/v1/sources/${s.id}`, undefined, { 'if-match': '1' })).status, 412);
  });

  it('409 when deleting a source, destination or transform a pipeline uses; 409 on a duplicate name', async () => {
    const s = await create('source', 'postgresql', 'used-src');
    const d = await create('destination', 'postgresql', 'used-dest');
    const t = await create('transform', 'drop_fields', 'used-t');
    const p = await api.call('POST', '/v1/pipelines', {
      name: 'uses-all',
      source_id: s.id,
      destination_id: d.id,
      transform_ids: [t.id],
    });
    assert.equal(p.status, 201, p.text);
    assert.equal(p.body.delivery.max_retries, 5);
    for (const [c, o] of [
      ['sources', s],
      ['destinations', d],
      ['transforms', t],
    ] as const) {
      const r = await api.call('DELETE', `/v1/${c}/${o.id}`);
      assert.equal(r.status, 409, r.text);
      assert.match(r.body.detail, /uses-all/);
    }
    const dup = await api.call('POST', '/v1/sources', {
      name: 'used-src',
      kind: 'postgresql',
      config: sampleConfigs['source/postgresql'],
    });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.errors[0].field, 'name');
    // Same name in another collection is fine.
    await create('destination', 'postgresql', 'used-src');
    // Changing the source in place is refused (it forces a new pipeline).
    const s2 = await create('source', 'postgresql', 'used-src-2');
    const move = await api.call('PATCH', `/v1/pipelines/${p.body.id}`, { source_id: s2.id });
    assert.equal(move.status, 409);
    assert.equal(move.body.errors[0].field, 'source_id');
    // pause/resume
    const paused = await api.call('POST', `/v1/pipelines/${p.body.id}/pause`);
    assert.equal(paused.body.desired_state, 'paused');
    const resumed = await api.call('POST', `/v1/pipelines/${p.body.id}/resume`);
    assert.equal(resumed.body.desired_state, 'running');
    assert.equal((await api.call('DELETE', `/v1/pipelines/${p.body.id}`)).status, 204);
    assert.equal((await api.call('DELETE', `/v1/sources/${s.id}`)).status, 204);
  });

  it('paginates with page and page_size', async () => {
    for (let i = 0; i < 7; i++) await create('transform', 'drop_fields', `page-${i}`);
    const all = (await api.call('GET', '/v1/transforms?page_size=500')).body;
    const seen: string[] = [];
    for (let page = 1; page <= Math.ceil(all.total / 3); page++) {
      const r = await api.call('GET', `/v1/transforms?page=${page}&page_size=3`);
      assert.equal(r.body.page, page);
      assert.equal(r.body.page_size, 3);
      assert.equal(r.body.total, all.total);
      assert.ok(r.body.items.length <= 3);
      seen.push(...r.body.items.map((x: { id: string }) => x.id));
    }
    assert.deepEqual(
      seen,
      all.items.map((x: { id: string }) => x.id),
    );
    assert.equal((await api.call('GET', '/v1/transforms?page=0')).status, 400);
    assert.equal((await api.call('GET', '/v1/transforms?page_size=501')).body.errors[0].field, 'page_size');
  });
});

describe('hostile input', () => {
  it('malformed JSON is 400, a body over the limit is 413, a wrong content type is 415', async () => {
    const bad = await api.call('POST', '/v1/sources', '{"name": "x",');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.title, 'Malformed JSON');
    const big = await api.call('POST', '/v1/sources', {
      name: 'big',
      kind: 'postgresql',
      config: { host: 'x'.repeat(2 * 1024 * 1024) },
    });
    assert.equal(big.status, 413);
    const form = await api.call('POST', '/v1/sources', 'name=x', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(form.status, 415);
    const arr = await api.call('POST', '/v1/sources', [1, 2]);
    assert.equal(arr.status, 400);
  });

  it('stores unicode and quote-laden names exactly', async () => {
    const names = [
      'Zürich "orders" \'prod\' 🚀',
      'back\\slash ${not_interpolated} %{x}',
      '日本語のソース',
      '  spaced  ',
    ];
    for (const name of names) {
      const c = await create('source', 'postgresql', name);
      assert.equal(c.name, name);
      assert.equal((await api.call('GET', `/v1/sources/${c.id}`)).body.name, name);
      const listed = await api.call('GET', `/v1/sources?name=${encodeURIComponent(name)}`);
      assert.equal(listed.body.items[0].name, name);
    }
  });

  it('unknown routes and non-uuid ids are 404 problems', async () => {
    assert.equal((await api.call('GET', '/v1/sources/not-a-uuid')).status, 404);
    assert.equal((await api.call('GET', '/v1/nothing')).status, 404);
  });
});

describe('audit', () => {
  it('records who changed what and from where, without values', async () => {
    const s = await create('source', 'postgresql', 'audited');
    await api.call('PATCH', `/v1/sources/${s.id}`, { config: { port: 7777 } }, { 'x-sluice-origin': 'terraform' });
    const r = await api.call('GET', `/v1/audit?object_id=${s.id}`);
    assert.equal(r.status, 200);
    const [upd, crt] = r.body.items;
    assert.equal(crt.action, 'create');
    assert.equal(crt.origin, 'api');
    assert.equal(crt.actor, 'bootstrap');
    assert.equal(upd.action, 'update');
    assert.equal(upd.origin, 'terraform');
    assert.deepEqual(upd.changed_fields, ['config.port']);
    assert.ok(upd.remote_addr);
  });
});
