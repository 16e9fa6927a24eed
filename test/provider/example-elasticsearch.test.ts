import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, startTestApi, TestApi } from '../helpers';
import { dropReplicationSlot, q, spawnWorker, stopWorker, waitFor, Worker } from '../dataplane/harness';
import { allDocs, es, startElasticsearch } from '../conformance/kits/destination-elasticsearch';
import { mirror, ok, one, planCode, repoRoot, resolveTf, runTf, supportsWriteOnly, TfEnv, workdir } from './tf';

/**
 * examples/postgres-to-elasticsearch applied with a real terraform against a real API, data plane
 * and the test stack's Elasticsearch 8: create, rows arriving as documents (snapshot and stream,
 * delete), an in-place update, no secret in state, outputs or plan, destroy.
 */
let tf: string;
/** Terraform >= 1.11 gets write-only secrets; older clients keep the configured secret in state. */
let writeOnly = false;
const tag = crypto.randomBytes(3).toString('hex');
const slot = `tfes_slot_${tag}`;
const user = `tfes_s_${tag}`;
// Values that occur nowhere else: found in the state or Terraform's output, they are a leak. The
// local Elasticsearch runs without security and ignores the key; the pipeline proves the password arrived.
const secrets = { postgres_source_password: `pg-src-secret-${tag}`, elasticsearch_api_key: `es-key-secret-${tag}` };
const index = 'catalog_products';
let api: TestApi;
let worker: Worker | undefined;
let esUrl = '';
let src = '';
let dir = '';
let env: TfEnv;
const secretsIn = (text: string) => Object.values(secrets).filter((v) => text.includes(v));
const docs = async () =>
  (await allDocs(esUrl, index).catch(() => [])).map((d) => d._source).sort((a, b) => Number(a.id) - Number(b.id));

before(async () => {
  tf = await resolveTf(); // terraform or tofu on PATH, else Terraform 1.5.7 built by test/setup.d/terraform.sh
  writeOnly = supportsWriteOnly(tf);
  [api, esUrl, src] = await Promise.all([startTestApi(), startElasticsearch(), freshDatabase('tfes_src')]);
  await es(esUrl, 'DELETE', `/${index}`).catch(() => undefined); // an earlier run's index, if any
  // SUPERUSER: the source creates a publication on a table it does not own and a replication slot.
  await q(src, `CREATE ROLE ${user} LOGIN SUPERUSER PASSWORD '${secrets.postgres_source_password}'`);
  await q(
    src,
    'CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, ' +
      'price numeric(10,2) NOT NULL); INSERT INTO products (name, price) ' +
      "VALUES ('first', 1.50)",
  );
  worker = spawnWorker(api);
  mirror();
  const s = new URL(src);
  // override.tf only adapts the example to this test's servers and keeps its Kafka topics apart.
  dir = workdir(
    {
      'override.tf': `resource "sluice_source_postgresql" "catalog" {
  tls_mode              = "disable"
  topic_prefix          = "tfes${tag}"
  publication_name      = "tfes_pub_${tag}"
  heartbeat_interval_ms = 1000
}
`,
    },
    path.join(repoRoot, 'examples/postgres-to-elasticsearch'),
  );
  env = {
    endpoint: api.url,
    token: api.token,
    vars: {
      ...secrets,
      postgres_source_host: s.hostname,
      postgres_source_port: s.port,
      postgres_source_database: s.pathname.slice(1),
      postgres_source_user: user,
      slot_name: slot,
      elasticsearch_url: esUrl,
    },
  };
});
after(async () => {
  if (worker) await stopWorker(worker, 'SIGTERM').catch(() => undefined);
  if (src) await dropReplicationSlot(src, slot);
  if (esUrl) await es(esUrl, 'DELETE', `/${index}`).catch(() => undefined);
  await q(src, `DROP OWNED BY ${user}; DROP ROLE IF EXISTS ${user}`).catch(() => undefined);
  await api?.close();
});

describe('examples/postgres-to-elasticsearch', () => {
  it(
    'applies: source, destination and pipeline exist with their config; no ' + 'secret in state, outputs or plan',
    async () => {
      await ok(dir, ['init', '-input=false'], env);
      const r = await ok(dir, ['apply', '-auto-approve', '-input=false'], env);
      assert.match(r.out, /Apply complete! Resources: 3 added, 0 changed, 0 destroyed/);
      assert.deepEqual(secretsIn(r.out), [], 'no secret in the apply output');
      const catalog = await one(api, 'sources', 'catalog');
      const search = await one(api, 'destinations', 'search');
      const p = await one(api, 'pipelines', 'catalog-to-search');
      assert.equal(search.kind, 'elasticsearch');
      assert.equal(search.config.url, esUrl);
      assert.equal(search.config.table_name_format, 'catalog_{table}');
      assert.equal(search.config.number_of_replicas, 0);
      assert.equal(search.config.api_key, undefined, 'secrets are never returned');
      assert.equal(catalog.config.password, undefined, 'secrets are never returned');
      assert.deepEqual([p.source_id, p.destination_id, p.tables], [catalog.id, search.id, ['public.products']]);
      // Each secret was stored, encrypted, by the API, and reaches neither the state (write-only) nor the outputs.
      const rows = await api.ds.query(`SELECT name, secrets FROM connectors ORDER BY name`);
      assert.deepEqual(
        rows.map((x: { name: string; secrets: Record<string, string> }) => [
          x.name,
          Object.keys(x.secrets).sort().join(','),
        ]),
        [
          ['catalog', 'password'],
          ['search', 'api_key'],
        ],
      );
      assert.ok(
        rows.every((x: { secrets: Record<string, string> }) =>
          Object.values(x.secrets).every((v) => v.startsWith('v1:')),
        ),
      );
      const state = fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8');
      for (const v of Object.values(secrets))
        assert.equal(state.includes(v), !writeOnly, `secret in the state: write-only=${writeOnly}`);
      const out = await ok(dir, ['output', '-json'], env);
      assert.deepEqual(secretsIn(out.stdout), []);
      assert.equal(JSON.parse(out.stdout).pipeline_id.value, p.id);
      const plan = await planCode(dir, env);
      assert.equal(plan.code, 0, plan.out);
      assert.deepEqual(secretsIn(plan.out), []);
    },
  );

  it('rows become documents: the snapshot row, inserts, an update and a delete', async () => {
    await waitFor('snapshot row indexed', async () => (await docs()).length === 1, 90000, 500);
    await q(
      src,
      "INSERT INTO products (name, price) VALUES ('second', 20.00), " +
        "('third', 3.25); UPDATE products SET price = 9.99 WHERE name = " +
        "'first'; DELETE FROM products WHERE name = 'third'",
    );
    await waitFor(
      'changes indexed',
      async () => {
        const d = await docs();
        return d.length === 2 && d[0].price === '9.99' && d[1].name === 'second';
      },
      60000,
      500,
    );
    const mapping = await es(esUrl, 'GET', `/${index}/_mapping`);
    assert.equal(
      Object.values(mapping as Record<string, any>)[0].mappings.properties.price.type,
      'double',
      'mapped from the source type',
    );
    const p = await one(api, 'pipelines', 'catalog-to-search');
    await waitFor(
      'pipeline Active',
      async () => (await api.call('GET', `/v1/pipelines/${p.id}/status`)).body.state === 'Active',
      60000,
      500,
    );
  });

  it(
    'a changed attribute of the destination plans as an in-place update ' + 'and applies; the next plan is empty',
    async () => {
      const before = await one(api, 'destinations', 'search');
      const changed: TfEnv = { ...env, vars: { ...env.vars, elasticsearch_replicas: '1' } };
      const plan = await runTf(tf!, dir, ['plan', '-input=false'], changed);
      assert.equal(plan.code, 0, plan.out);
      assert.match(plan.out, /sluice_destination_elasticsearch\.search will be updated in-place/);
      assert.match(plan.out, /Plan: 0 to add, 1 to change, 0 to destroy/);
      assert.deepEqual(secretsIn(plan.out), []);
      await ok(dir, ['apply', '-auto-approve', '-input=false'], changed);
      const afterUpdate = await one(api, 'destinations', 'search');
      assert.equal(afterUpdate.id, before.id);
      assert.equal(afterUpdate.config.number_of_replicas, 1);
      assert.equal((await planCode(dir, changed)).code, 0);
      env = changed;
      // The updated destination still receives rows.
      await q(src, `INSERT INTO products (name, price) VALUES ('after-update', 4.00)`);
      await waitFor(
        'row after the update indexed',
        async () => (await docs()).some((d) => d.name === 'after-update'),
        60000,
        500,
      );
    },
  );

  it('destroy removes every object', async () => {
    const r = await ok(dir, ['destroy', '-auto-approve', '-input=false'], env);
    assert.match(r.out, /Destroy complete! Resources: 3 destroyed/);
    for (const coll of ['sources', 'destinations', 'pipelines'])
      assert.equal((await api.call('GET', `/v1/${coll}`)).body.total, 0, coll);
  });
});
