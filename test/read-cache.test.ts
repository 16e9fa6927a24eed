import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../api/auth';
import { sampleConfigs, startTestApi, TestApi } from './helpers';

/**
 * The read caches (api/read-model.ts, api/auth.ts) must never show a client something older than
 * what it wrote, and must follow writes made elsewhere: by a second API process on the same DB or
 * by SQL. "Silent" updates below bypass the NOTIFY trigger on purpose (session_replication_role =
 * replica), which shows that a read really came from the cache and what makes it refresh.
 */
let a: TestApi;
let b: TestApi;
before(async () => {
  a = await startTestApi();
  b = await startTestApi({ databaseUrl: a.databaseUrl, token: a.token }); // a second API process on the same DB
});
after(async () => {
  await b.close();
  await a.close();
});

async function createSource(api: TestApi, name: string) {
  const r = await api.call('POST', '/v1/sources', {
    name,
    kind: 'postgresql',
    config: sampleConfigs['source/postgresql'],
  });
  assert.equal(r.status, 201, r.text);
  return r.body as { id: string; version: number; tags: Record<string, string> };
}

/** Changes a row without firing the NOTIFY trigger, as if the notification were lost. */
async function silentUpdate(api: TestApi, sql: string, args: unknown[]) {
  await api.ds.transaction(async (m) => {
    await m.query(`SET LOCAL session_replication_role = replica`);
    await m.query(sql, args);
  });
}

/**
 * Waits until `api` has received every NOTIFY committed so far: its own writes echo back through the
 * feed a little later and drop what was cached in between, so a test that needs a cache hit waits for
 * them. NOTIFYs arrive in commit order, so a marker sent now arrives after all of them.
 */
async function settled(api: TestApi) {
  const marker = crypto.randomBytes(8).toString('hex');
  let stop = () => {};
  const seen = new Promise<void>((resolve) => {
    stop = api.changes.subscribe((table, id) => {
      if (table === 'test-marker' && id === marker) resolve();
    });
  });
  await api.ds.query(`SELECT pg_notify('sluice_changes', $1)`, [`test-marker:${marker}`]);
  await seen;
  stop();
}

/** Polls `read` until `done` holds; fails after `ms` with the last value. */
async function eventually<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > until) assert.fail(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('read cache', () => {
  it('serves repeated GETs from the cache (a change that bypasses NOTIFY is not seen until one arrives)', async () => {
    const s = await createSource(a, 'cache-hit');
    await settled(a);
    const first = await a.call('GET', `/v1/sources/${s.id}`);
    assert.equal(first.status, 200);
    await silentUpdate(a, `UPDATE connectors SET tags = '{"silent":"1"}' WHERE id = $1`, [s.id]);
    const cached = await a.call('GET', `/v1/sources/${s.id}`);
    assert.deepEqual(cached.body.tags, {}, 'expected the cached rendering');
    assert.equal(cached.text, first.text);
    // The notification the trigger would have sent refreshes it.
    await a.ds.query(`SELECT pg_notify('sluice_changes', 'connectors:' || $1)`, [s.id]);
    await eventually(
      'GET after NOTIFY',
      async () => (await a.call('GET', `/v1/sources/${s.id}`)).body.tags,
      (t) => t.silent === '1',
    );
  });

  it('a cached response is byte-identical to the uncached one, with the same headers', async () => {
    const s = await createSource(a, 'cache-identical');
    await settled(b);
    const cold = await b.call('GET', `/v1/sources/${s.id}`); // b has not read it yet
    const hot = await b.call('GET', `/v1/sources/${s.id}`);
    assert.equal(hot.text, cold.text);
    const headers = (r: { headers: Headers }) => [...r.headers].filter(([k]) => k !== 'date');
    assert.deepEqual(headers(hot), headers(cold));
    assert.equal(hot.headers.get('etag'), `"${s.version}"`);
    const listCold = await b.call('GET', '/v1/sources?page=1&page_size=3');
    const listHot = await b.call('GET', '/v1/sources?page=1&page_size=3');
    assert.equal(listHot.text, listCold.text);
    assert.equal(listHot.headers.get('content-type'), listCold.headers.get('content-type'));
  });

  it('reads its own writes: the GET right after PUT/PATCH/DELETE on the same process sees it', async () => {
    const s = await createSource(a, 'cache-ryw');
    for (let i = 1; i <= 20; i++) {
      await a.call('GET', `/v1/sources/${s.id}`); // keep it cached
      await a.call('GET', '/v1/sources?page=1&page_size=500');
      const w = await a.call('PATCH', `/v1/sources/${s.id}`, { tags: { round: String(i) } });
      assert.equal(w.status, 200, w.text);
      const r = await a.call('GET', `/v1/sources/${s.id}`);
      assert.equal(r.body.version, w.body.version, `round ${i}`);
      assert.equal(r.headers.get('etag'), `"${w.body.version}"`);
      assert.deepEqual(r.body.tags, { round: String(i) });
      const listed = (await a.call('GET', '/v1/sources?page=1&page_size=500')).body.items.find(
        (x: { id: string }) => x.id === s.id,
      );
      assert.deepEqual(listed.tags, { round: String(i) }, `list, round ${i}`);
    }
    // A stale If-Match still fails although the reader's copy came from a cache.
    const stale = await a.call('PATCH', `/v1/sources/${s.id}`, { tags: {} }, { 'if-match': '"1"' });
    assert.equal(stale.status, 412);
    const del = await a.call('DELETE', `/v1/sources/${s.id}`);
    assert.equal(del.status, 204);
    assert.equal((await a.call('GET', `/v1/sources/${s.id}`)).status, 404);
  });

  it('list pages reflect creates and deletes at once', async () => {
    const before = await a.call('GET', '/v1/sources?page=1&page_size=500');
    await a.call('GET', '/v1/sources?page=1&page_size=500'); // cached now
    const s = await createSource(a, 'cache-list');
    const withIt = await a.call('GET', '/v1/sources?page=1&page_size=500');
    assert.equal(withIt.body.total, before.body.total + 1);
    assert.ok(withIt.body.items.some((x: { id: string }) => x.id === s.id));
    const byName = await a.call('GET', '/v1/sources?name=cache-list');
    assert.equal(byName.body.total, 1);
    assert.equal((await a.call('DELETE', `/v1/sources/${s.id}`)).status, 204);
    const without = await a.call('GET', '/v1/sources?page=1&page_size=500');
    assert.equal(without.body.total, before.body.total);
    assert.ok(!without.body.items.some((x: { id: string }) => x.id === s.id));
    assert.equal((await a.call('GET', '/v1/sources?name=cache-list')).body.total, 0);
  });

  it('a write through another API process reaches this one via NOTIFY', async () => {
    const s = await createSource(a, 'cache-other-process');
    assert.equal((await a.call('GET', `/v1/sources/${s.id}`)).body.version, 1);
    const listed = await a.call('GET', '/v1/sources?name=cache-other-process');
    assert.equal(listed.body.total, 1);
    const w = await b.call('PATCH', `/v1/sources/${s.id}`, { tags: { by: 'b' } });
    assert.equal(w.status, 200, w.text);
    const seen = await eventually(
      "a sees b's write",
      async () => (await a.call('GET', `/v1/sources/${s.id}`)).body,
      (x) => x.version === 2,
    );
    assert.deepEqual(seen.tags, { by: 'b' });
    assert.equal((await b.call('DELETE', `/v1/sources/${s.id}`)).status, 204);
    await eventually(
      "a sees b's delete",
      async () => (await a.call('GET', `/v1/sources/${s.id}`)).status,
      (st) => st === 404,
    );
    await eventually(
      "a's list drops it",
      async () => (await a.call('GET', '/v1/sources?name=cache-other-process')).body.total,
      (n) => n === 0,
    );
  });

  it('a pipeline written by another process is re-read too', async () => {
    const src = await createSource(a, 'cache-pl-src');
    const dst = await a.call('POST', '/v1/destinations', {
      name: 'cache-pl-dst',
      kind: 'postgresql',
      config: sampleConfigs['destination/postgresql'],
    });
    const p = await a.call('POST', '/v1/pipelines', {
      name: 'cache-pl',
      source_id: src.id,
      destination_id: dst.body.id,
      tables: ['public.orders'],
    });
    assert.equal(p.status, 201, p.text);
    assert.equal((await a.call('GET', `/v1/pipelines/${p.body.id}`)).body.desired_state, p.body.desired_state);
    const paused = await b.call('POST', `/v1/pipelines/${p.body.id}/pause`);
    assert.equal(paused.status, 200, paused.text);
    await eventually(
      'a sees the pause',
      async () => (await a.call('GET', `/v1/pipelines/${p.body.id}`)).body.desired_state,
      (st) => st === 'paused',
    );
  });

  it('a revoked (deleted) token stops working on every process', async () => {
    const token = 'revoke_' + crypto.randomBytes(16).toString('hex');
    await a.ds.query(`INSERT INTO api_tokens (name, token_hash, role) VALUES ('short-lived', $1, 'viewer')`, [
      hashToken(token),
    ]);
    const auth = { authorization: `Bearer ${token}` };
    for (const api of [a, b]) assert.equal((await api.call('GET', '/v1/sources', undefined, auth)).status, 200);
    for (const api of [a, b]) assert.equal((await api.call('GET', '/v1/sources', undefined, auth)).status, 200); // cached now
    await a.ds.query(`DELETE FROM api_tokens WHERE token_hash = $1`, [hashToken(token)]);
    for (const api of [a, b]) {
      await eventually(
        'revoked token refused',
        async () => (await api.call('GET', '/v1/sources', undefined, auth)).status,
        (st) => st === 401,
      );
      const r = await api.call('GET', `/v1/sources?page=1&page_size=500`, undefined, auth);
      assert.equal(r.status, 401);
    }
    // The bootstrap token still works.
    assert.equal((await a.call('GET', '/v1/sources')).status, 200);
  });

  it('a lost LISTEN connection drops the caches, and caching resumes after it reconnects', async () => {
    const s = await createSource(a, 'cache-feed-loss');
    await Promise.all([settled(a), settled(b)]);
    await a.call('GET', `/v1/sources/${s.id}`);
    await b.call('GET', `/v1/sources/${s.id}`);
    await silentUpdate(a, `UPDATE connectors SET tags = '{"while":"deaf"}' WHERE id = $1`, [s.id]);
    assert.deepEqual((await a.call('GET', `/v1/sources/${s.id}`)).body.tags, {}, 'expected the cached rendering');
    const killed: unknown[] = await a.ds.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE ' +
        "application_name = 'sluice-api-changes' AND datname = " +
        'current_database()',
    );
    assert.equal(killed.length, 2, 'one change feed per API process');
    for (const api of [a, b]) {
      await eventually(
        'the silent change after the feed was lost',
        async () => (await api.call('GET', `/v1/sources/${s.id}`)).body.tags,
        (t) => t.while === 'deaf',
      );
    }
    // Both feeds come back (backoff), and NOTIFY-driven invalidation works again.
    await eventually(
      'feeds re-listening',
      async () =>
        Number(
          (
            await a.ds.query(
              'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = ' +
                "'sluice-api-changes' AND datname = current_database()",
            )
          )[0].n,
        ),
      (n) => n === 2,
    );
    const w = await b.call('PATCH', `/v1/sources/${s.id}`, { tags: { after: 'reconnect' } });
    assert.equal(w.status, 200);
    await eventually(
      "a sees b's write after the reconnect",
      async () => (await a.call('GET', `/v1/sources/${s.id}`)).body.tags,
      (t) => t.after === 'reconnect',
    );
  });

  it('an import invalidates the lists of this process at once', async () => {
    await a.call('GET', '/v1/transforms?page=1&page_size=500');
    const doc = (await a.call('GET', '/v1/export?format=json')).body;
    doc.transforms = [
      ...(doc.transforms ?? []),
      { name: 'cache-imported', kind: 'drop_fields', config: { fields: ['x'] } },
    ];
    const imp = await a.call('POST', '/v1/import', doc);
    assert.equal(imp.status, 200, imp.text);
    const list = await a.call('GET', '/v1/transforms?page=1&page_size=500');
    assert.ok(
      list.body.items.some((t: { name: string }) => t.name === 'cache-imported'),
      list.text,
    );
  });

  it('keeps the same status codes as the full route for bad paging and bad tokens on cached paths', async () => {
    await a.call('GET', '/v1/sources?page=1&page_size=50');
    assert.equal((await a.call('GET', '/v1/sources?page=0')).status, 400);
    assert.equal(
      (await a.call('GET', '/v1/sources?page=1&page_size=50', undefined, { authorization: 'Bearer nope' })).status,
      401,
    );
    assert.equal(
      (await a.call('GET', '/v1/destinations/' + (await createSource(a, 'cache-wrong-collection')).id)).status,
      404,
    );
    const metrics = await fetch(a.url + '/metrics').then((r) => r.text());
    assert.match(
      metrics,
      /sluice_http_request_duration_seconds_count\{method="GET",route="\/v1\/sources\/:id",status="200"\} \d+/,
    );
  });
});
