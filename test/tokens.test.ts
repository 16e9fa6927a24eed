import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBootstrapToken } from '../api/auth';
import { OperationIndex } from '../api/request-guard';
import { allows, defaultRole, Role, ROLE_EXTENSION, roles } from '../core/roles';
import { sampleConfigs, startTestApi, TestApi } from './helpers';

/** API tokens with roles: the role matrix over the whole OpenAPI document, the hot path, expiry, audit, rate limit, CLI. */

let api: TestApi;
const tokens: Record<Role, string> = { viewer: '', operator: '', admin: '' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, f: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}
const as = (token: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}) =>
  api.call(method, p, body, { authorization: `Bearer ${token}`, ...headers });

before(async () => {
  api = await startTestApi();
  for (const role of roles) {
    const r = await api.call('POST', '/v1/tokens', { name: `matrix-${role}`, role });
    assert.equal(r.status, 201, r.text);
    assert.match(r.body.token, /^slc_/);
    tokens[role] = r.body.token;
  }
});
after(async () => {
  await api?.close();
});

describe('tokens', () => {
  it('POST returns the secret once; GET and the database never show it; names are unique', async () => {
    const r = await api.call('POST', '/v1/tokens', { name: 'ci-dashboard', role: 'viewer', expires_in: 3600 });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers.get('location'), `/v1/tokens/${r.body.id}`);
    assert.equal(r.body.role, 'viewer');
    assert.equal(r.body.expires_in, 3600);
    assert.equal(new Date(r.body.expires_at).getTime() - new Date(r.body.created_at).getTime(), 3600_000);
    const one = await api.call('GET', `/v1/tokens/${r.body.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual(Object.keys(one.body).sort(), [
      'created_at',
      'expires_at',
      'expires_in',
      'id',
      'last_used_at',
      'name',
      'role',
    ]);
    const list = await api.call('GET', '/v1/tokens?page_size=500');
    assert.ok(list.body.items.some((t: { name: string }) => t.name === 'bootstrap'));
    assert.ok(!list.text.includes(r.body.token) && !one.text.includes(r.body.token));
    assert.ok(!JSON.stringify(await api.ds.query('SELECT * FROM api_tokens')).includes(r.body.token));
    const dup = await api.call('POST', '/v1/tokens', { name: 'ci-dashboard', role: 'admin' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.errors[0].field, 'name');
    for (const [body, field] of [
      [{ name: 'x', role: 'root' }, 'role'],
      [{ name: 'x', role: 'viewer', expires_in: 5 }, 'expires_in'],
      [{ role: 'viewer' }, 'name'],
      [{ name: 'x', role: 'viewer', token: 'mine' }, 'token'],
    ] as const) {
      const bad = await api.call('POST', '/v1/tokens', body);
      assert.equal(bad.status, 400, bad.text);
      assert.ok(
        bad.body.errors.some((e: { field: string }) => e.field === field),
        bad.text,
      );
    }
  });

  it('every operation of the OpenAPI document answers 403 exactly to the roles below the one it declares', async () => {
    const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    let checked = 0;
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(item)) {
        if (m === 'parameters' || (op.security as unknown[] | undefined)?.length === 0) continue;
        const method = m.toUpperCase();
        const need = (op[ROLE_EXTENSION] as Role | undefined) ?? defaultRole(method);
        assert.ok(roles.includes(need), `${method} ${p} declares ${need}`);
        const url = p.replace(/\{\w+\}/g, () => crypto.randomUUID());
        for (const role of roles) {
          const r = await as(tokens[role], method, url, op.requestBody ? {} : undefined);
          if (allows(role, need)) {
            assert.notEqual(r.status, 403, `${role} may ${method} ${p}: ${r.text}`);
            assert.ok(r.status < 500, `${method} ${p} as ${role}: ${r.text}`);
          } else {
            assert.equal(r.status, 403, `${role} may not ${method} ${p} (needs ${need}): got ${r.status} ${r.text}`);
            assert.equal(r.headers.get('content-type'), 'application/problem+json');
            assert.equal(r.body.required_role, need);
            assert.match(r.body.detail, new RegExp(`needs a token with role ${need}.*has role ${role}`));
          }
          checked++;
        }
      }
    }
    assert.ok(checked >= 40 * roles.length, `${checked} checks`);
  });

  it('operations nobody declared a role for: reads are for viewers, changes for admins', async () => {
    const index = new OperationIndex({
      paths: { '/v1/alert-rules': { get: {}, post: {} }, '/v1/alert-rules/{id}': { delete: {} } },
    });
    assert.equal(index.roleFor('GET', '/v1/alert-rules'), 'viewer');
    assert.equal(index.roleFor('POST', '/v1/alert-rules/'), 'admin');
    assert.equal(index.roleFor('DELETE', `/v1/alert-rules/${crypto.randomUUID()}`), 'admin');
    assert.equal(index.roleFor('PATCH', '/v1/not-documented-at-all'), 'admin');
    // Also a route the document does not describe at all is guarded by its method.
    assert.equal((await as(tokens.operator, 'POST', '/v1/not-documented-at-all', {})).status, 403);
    assert.equal((await as(tokens.admin, 'POST', '/v1/not-documented-at-all', {})).status, 404);
    assert.equal((await as(tokens.viewer, 'GET', '/v1/not-documented-at-all')).status, 404);
  });

  it('the roles hold on the hot read path, and a revoked or expired token stops working at once', async () => {
    const s = await api.call('POST', '/v1/sources', {
      name: 'hot-src',
      kind: 'postgresql',
      config: sampleConfigs['source/postgresql'],
    });
    assert.equal(s.status, 201, s.text);
    const t = await api.call('POST', '/v1/tokens', { name: 'hot-viewer', role: 'viewer', expires_in: 600 });
    const e = await api.call('POST', '/v1/tokens', { name: 'hot-expiring', role: 'viewer', expires_in: 600 });
    for (const secret of [t.body.token, e.body.token]) {
      for (let i = 0; i < 3; i++) assert.equal((await as(secret, 'GET', `/v1/sources/${s.body.id}`)).status, 200); // cached after the first
      assert.equal((await as(secret, 'GET', '/v1/sources')).status, 200);
    }
    assert.equal((await as(t.body.token, 'DELETE', `/v1/sources/${s.body.id}`)).status, 403);
    assert.equal((await as(tokens.viewer, 'GET', '/v1/tokens')).status, 403, 'listing tokens is for admins');
    assert.equal((await api.call('DELETE', `/v1/tokens/${t.body.id}`)).status, 204);
    const revoked = await as(t.body.token, 'GET', `/v1/sources/${s.body.id}`);
    assert.equal(revoked.status, 401, 'revoked: refused by the next request');
    assert.equal((await as(t.body.token, 'GET', '/v1/sources')).status, 401);
    await api.ds.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [e.body.id]);
    await waitFor(
      'the expired token to be refused',
      async () => (await as(e.body.token, 'GET', `/v1/sources/${s.body.id}`)).status === 401,
    );
    const expired = await as(e.body.token, 'GET', '/v1/sources');
    assert.equal(expired.status, 401);
    assert.match(expired.body.detail, /expired at/);
  });

  it('a token cannot revoke itself; an admin token made through the API can manage tokens', async () => {
    const a = await api.call('POST', '/v1/tokens', { name: 'second-admin', role: 'admin' });
    const self = await as(a.body.token, 'DELETE', `/v1/tokens/${a.body.id}`);
    assert.equal(self.status, 409, self.text);
    const other = await as(a.body.token, 'POST', '/v1/tokens', { name: 'made-by-second', role: 'operator' });
    assert.equal(other.status, 201);
    assert.equal((await as(a.body.token, 'DELETE', `/v1/tokens/${other.body.id}`)).status, 204);
  });

  it('the audit log names the token and the origin of each change', async () => {
    const headers = { 'x-sluice-origin': 'console' };
    const r = await as(
      tokens.admin,
      'POST',
      '/v1/transforms',
      { name: 'audited-by-token', kind: 'drop_fields', config: { fields: ['ssn'] } },
      headers,
    );
    assert.equal(r.status, 201, r.text);
    const p = await as(tokens.operator, 'PATCH', `/v1/transforms/${r.body.id}`, { tags: { a: 'b' } });
    assert.equal(p.status, 403);
    const log = (await api.call('GET', `/v1/audit?object_id=${r.body.id}`)).body.items;
    assert.equal(log.length, 1);
    assert.equal(log[0].actor, 'matrix-admin');
    assert.equal(log[0].origin, 'console');
    const created = (await api.call('GET', '/v1/audit?page_size=500')).body.items.find(
      (x: { object_type: string; object_name: string }) =>
        x.object_type === 'token' && x.object_name === 'matrix-viewer',
    );
    assert.equal(created.actor, 'bootstrap');
    assert.equal(created.action, 'create');
  });

  it('sluice token create|list|revoke', async () => {
    // Not spawnSync: the API answers from this process.
    const cli = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [path.resolve(__dirname, '..', 'bin', 'sluice.js'), 'token', ...args],
          { env: { ...process.env, SLUICE_ENDPOINT: api.url, SLUICE_TOKEN: api.token } },
          (err, stdout, stderr) =>
            resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const c = await cli('create', 'from-cli', '--role', 'operator', '--expires-in', '2d');
    assert.equal(c.status, 0, c.stderr);
    const secret = c.stdout.trim();
    assert.match(secret, /^slc_/);
    assert.match(c.stderr, /operator token "from-cli".*expires/);
    assert.equal(
      (await as(secret, 'POST', `/v1/pipelines/${crypto.randomUUID()}/pause`)).status,
      404,
      'operator may pause',
    );
    const l = await cli('list', '--json');
    assert.equal(l.status, 0, l.stderr);
    const mine = JSON.parse(l.stdout).find((t: { name: string }) => t.name === 'from-cli');
    assert.equal(mine.role, 'operator');
    assert.equal(mine.expires_in, 2 * 86400);
    assert.ok(!l.stdout.includes(secret));
    const bad = await cli('create', 'x', '--role', 'root');
    assert.notEqual(bad.status, 0);
    const rv = await cli('revoke', 'from-cli');
    assert.equal(rv.status, 0, rv.stderr);
    assert.equal((await as(secret, 'GET', '/v1/sources')).status, 401);
  });

  it('a changed SLUICE_BOOTSTRAP_TOKEN replaces the old bootstrap token', async () => {
    const next = 'rotated_' + crypto.randomBytes(12).toString('hex');
    await ensureBootstrapToken(api.ds, api.home, next);
    await waitFor(
      'the old bootstrap token to be refused',
      async () => (await api.call('GET', '/v1/sources')).status === 401,
    );
    assert.equal((await as(next, 'GET', '/v1/tokens')).status, 200);
    const rows = await api.ds.query(`SELECT name, role FROM api_tokens WHERE name LIKE 'bootstrap%'`);
    assert.deepEqual(rows, [{ name: 'bootstrap', role: 'admin' }]);
  });
});

describe('failed authentication is rate limited per client address', () => {
  it('past the limit every request from the address gets 429 with Retry-After, until the window ends', async () => {
    const limited = await startTestApi({ config: { authFailuresMax: 3, authFailuresWindowMs: 3000 } });
    try {
      const get = (token: string, p = '/v1/pipelines') =>
        fetch(limited.url + p, { headers: { authorization: `Bearer ${token}` } });
      assert.equal((await get(limited.token)).status, 200); // primes the hot path's caches
      assert.equal((await get(limited.token)).status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await get('wrong-' + i)).status, 401);
      for (const token of ['wrong-again', limited.token]) {
        const r = await get(token);
        assert.equal(r.status, 429, `${token}: ${r.status}`);
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        assert.match(((await r.json()) as { detail: string }).detail, /failed authentication/);
      }
      const started = Date.now();
      while ((await get(limited.token)).status === 429) {
        assert.ok(Date.now() - started < 15_000, 'the address is let in again once its window ends');
        await sleep(200);
      }
      assert.equal((await get(limited.token)).status, 200);
      assert.equal((await fetch(limited.url + '/healthz')).status, 200);
    } finally {
      await limited.close();
    }
  });
});
