import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, startTestApi, TestApi } from '../helpers';
import { dropReplicationSlot, q, spawnWorker, stopWorker, waitFor, Worker } from '../dataplane/harness';
import { freshMysqlDatabase, mysqlQuery, startMariadb } from '../mysql-helpers';
import { mirror, ok, one, planCode, repoRoot, resolveTf, runTf, supportsWriteOnly, TfEnv, workdir } from './tf';

/**
 * examples/mysql applied with a real terraform against a real API and data plane: a MariaDB source
 * into a Postgres destination and a Postgres source into a MariaDB destination. Create, data in
 * both directions, update in place, `terraform import` of the MySQL objects, destroy.
 */
let tf: string;
/** Terraform >= 1.11 gets write-only secrets; older clients keep the configured secret in state. */
let writeOnly = false;
const tag = crypto.randomBytes(3).toString('hex');
const slot = `tfmy_slot_${tag}`;
// Each connector logs in as its own account with a password that occurs nowhere else, so finding
// one in the state or Terraform's output is a leak, and the pipelines running proves each secret arrived.
const secrets = {
  mysql_source_password: `my-src-secret-${tag}`,
  postgres_destination_password: `pg-dst-secret-${tag}`,
  postgres_source_password: `pg-src-secret-${tag}`,
  mysql_destination_password: `my-dst-secret-${tag}`,
};
const users = {
  mysqlSource: `tfmy_s_${tag}`,
  mysqlDestination: `tfmy_d_${tag}`,
  pgSource: `tfmy_s_${tag}`,
  pgDestination: `tfmy_d_${tag}`,
};
const serverId = 20000 + crypto.randomInt(1_000_000);
let api: TestApi;
let worker: Worker | undefined;
let mysqlAdminUrl = '';
let mySrc = '';
let myDst = '';
let pgSrc = '';
let pgDst = '';
let dir = '';
let env: TfEnv;
const dbOf = (url: string) => new URL(url).pathname.slice(1);
const secretsIn = (text: string) => Object.values(secrets).filter((v) => text.includes(v));

before(async () => {
  tf = await resolveTf();
  writeOnly = supportsWriteOnly(tf);
  api = await startTestApi();
  mysqlAdminUrl = (await startMariadb()).mysqlUrl;
  [mySrc, myDst, pgSrc, pgDst] = await Promise.all([
    freshMysqlDatabase('tfmy_src'),
    freshMysqlDatabase('tfmy_dst'),
    freshDatabase('tfmy_src'),
    freshDatabase('tfmy_dst'),
  ]);
  for (const [user, pw] of [
    [users.mysqlSource, secrets.mysql_source_password],
    [users.mysqlDestination, secrets.mysql_destination_password],
  ]) {
    await mysqlQuery(
      mysqlAdminUrl,
      `CREATE USER ?@'127.0.0.1' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO ?@'127.0.0.1'`,
      [user, pw, user],
    );
  }
  // SUPERUSER: the source creates a publication on a table it does not own and a replication slot.
  await q(
    pgSrc,
    `CREATE ROLE ${users.pgSource} LOGIN SUPERUSER PASSWORD '${secrets.postgres_source_password}'; CREATE ` +
      `ROLE ${users.pgDestination} LOGIN SUPERUSER PASSWORD '${secrets.postgres_destination_password}'`,
  );
  await q(
    mySrc,
    'CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, item ' +
      'VARCHAR(100) NOT NULL, qty INT NOT NULL); INSERT INTO orders (item, ' +
      "qty) VALUES ('first', 1)",
  );
  await q(
    pgSrc,
    'CREATE TABLE invoices (id serial PRIMARY KEY, customer text NOT NULL, ' +
      'amount numeric(12,2) NOT NULL); INSERT INTO invoices (customer, ' +
      "amount) VALUES ('first', 10.50)",
  );
  worker = spawnWorker(api);
  mirror();
  const [ms, md, ps, pd] = [mySrc, myDst, pgSrc, pgDst].map((u) => new URL(u));
  // override.tf only adapts the example to this test's servers and keeps its Kafka topics apart.
  dir = workdir(
    {
      'override.tf': `resource "sluice_source_mysql" "shop" {
  tls_mode              = "disable"
  topic_prefix          = "tfmy${tag}s"
  heartbeat_interval_ms = 1000
}
resource "sluice_source_postgresql" "billing" {
  tls_mode              = "disable"
  topic_prefix          = "tfmy${tag}b"
  publication_name      = "tfmy_pub_${tag}"
  heartbeat_interval_ms = 1000
}
resource "sluice_destination_postgresql" "analytics" {
  tls_mode = "disable"
}
resource "sluice_destination_mysql" "reporting" {
  tls_mode = "disable"
}
`,
    },
    path.join(repoRoot, 'examples/mysql'),
  );
  env = {
    endpoint: api.url,
    token: api.token,
    vars: {
      ...secrets,
      mysql_source_host: ms.hostname,
      mysql_source_port: ms.port,
      mysql_source_database: dbOf(mySrc),
      mysql_source_user: users.mysqlSource,
      mysql_server_id: String(serverId),
      postgres_destination_host: pd.hostname,
      postgres_destination_port: pd.port,
      postgres_destination_database: dbOf(pgDst),
      postgres_destination_user: users.pgDestination,
      postgres_source_host: ps.hostname,
      postgres_source_port: ps.port,
      postgres_source_database: dbOf(pgSrc),
      postgres_source_user: users.pgSource,
      slot_name: slot,
      mysql_destination_host: md.hostname,
      mysql_destination_port: md.port,
      mysql_destination_database: dbOf(myDst),
      mysql_destination_user: users.mysqlDestination,
    },
  };
});
after(async () => {
  if (worker) await stopWorker(worker, 'SIGTERM').catch(() => undefined);
  if (pgSrc) await dropReplicationSlot(pgSrc, slot);
  for (const u of [users.mysqlSource, users.mysqlDestination])
    if (mysqlAdminUrl) await mysqlQuery(mysqlAdminUrl, `DROP USER IF EXISTS ?@'127.0.0.1'`, [u]).catch(() => undefined);
  await api?.close();
});

describe('examples/mysql', () => {
  it(
    'applies: the MySQL and Postgres sources and destinations and both ' +
      'pipelines exist with their config; no secret in state, outputs or plan',
    async () => {
      await ok(dir, ['init', '-input=false'], env);
      const r = await ok(dir, ['apply', '-auto-approve', '-input=false'], env);
      assert.match(r.out, /Apply complete! Resources: 6 added, 0 changed, 0 destroyed/);
      assert.deepEqual(secretsIn(r.out), [], 'no secret in the apply output');

      const shop = await one(api, 'sources', 'shop-mariadb');
      assert.equal(shop.kind, 'mysql');
      assert.deepEqual(shop.config.database_include, [dbOf(mySrc)]);
      assert.deepEqual(shop.config.table_include, [`${dbOf(mySrc)}.orders`]);
      assert.equal(shop.config.server_id, serverId);
      assert.equal(shop.config.port, Number(new URL(mySrc).port));
      assert.equal(shop.config.user, users.mysqlSource);
      assert.deepEqual(shop.tags, { team: 'shop' });
      const reporting = await one(api, 'destinations', 'reporting');
      assert.equal(reporting.kind, 'mysql');
      assert.equal(reporting.config.database, dbOf(myDst));
      assert.equal(reporting.config.user, users.mysqlDestination);
      assert.equal(reporting.config.batch_size, 500);
      const analytics = await one(api, 'destinations', 'analytics');
      assert.equal(analytics.kind, 'postgresql');
      assert.equal(analytics.config.schema, 'shop');
      const billing = await one(api, 'sources', 'billing');
      assert.equal(billing.kind, 'postgresql');
      assert.equal(billing.config.slot_name, slot);
      for (const o of [shop, reporting, analytics, billing])
        assert.equal(o.config.password, undefined, `${o.name}: secrets are never returned`);
      const toAnalytics = await one(api, 'pipelines', 'shop-to-analytics');
      const toReporting = await one(api, 'pipelines', 'billing-to-reporting');
      assert.equal(toAnalytics.source_id, shop.id);
      assert.equal(toAnalytics.destination_id, analytics.id);
      assert.deepEqual(toAnalytics.tables, [`${dbOf(mySrc)}.orders`]);
      assert.equal(toReporting.source_id, billing.id);
      assert.equal(toReporting.destination_id, reporting.id);
      assert.deepEqual(toReporting.delivery, { max_retries: 5, backoff_initial_ms: 500, backoff_max_ms: 30000 });

      // Each password was stored, encrypted, by the API...
      const rows = await api.ds.query(`SELECT name, secrets FROM connectors ORDER BY name`);
      assert.deepEqual(
        rows.map((x: { name: string }) => x.name),
        ['analytics', 'billing', 'reporting', 'shop-mariadb'],
      );
      assert.ok(
        rows.every((x: { secrets: Record<string, string> }) => x.secrets.password?.startsWith('v1:')),
        JSON.stringify(rows),
      );
      // ... and reaches neither the state (where Terraform has write-only attributes) nor the outputs.
      const state = fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8');
      for (const v of Object.values(secrets))
        assert.equal(state.includes(v), !writeOnly, `secret ${v} in the state: write-only=${writeOnly}`);
      const out = await ok(dir, ['output', '-json'], env);
      assert.deepEqual(secretsIn(out.stdout), []);
      const outputs = JSON.parse(out.stdout);
      assert.equal(outputs.mysql_source_id.value, shop.id);
      assert.equal(outputs.mysql_destination_id.value, reporting.id);
      assert.deepEqual(outputs.pipeline_ids.value, {
        shop_to_analytics: toAnalytics.id,
        billing_to_reporting: toReporting.id,
      });
      const plan = await planCode(dir, env);
      assert.equal(plan.code, 0, plan.out);
      assert.deepEqual(secretsIn(plan.out), []);
    },
  );

  it('rows inserted into MariaDB arrive in Postgres, rows inserted into Postgres arrive in MariaDB', async () => {
    // The initial snapshots first (they also show that each connector logged in with its secret).
    await waitFor(
      'MariaDB snapshot row in Postgres',
      async () => (await q(pgDst, `SELECT 1 FROM shop.orders WHERE id = 1`).catch(() => [])).length > 0,
      90000,
      500,
    );
    await waitFor(
      'Postgres snapshot row in MariaDB',
      async () => (await q(myDst, `SELECT 1 FROM invoices WHERE id = 1`).catch(() => [])).length > 0,
      90000,
      500,
    );
    await q(mySrc, `INSERT INTO orders (item, qty) VALUES ('from-mariadb', 42)`);
    const [inv] = await q(
      pgSrc,
      `INSERT INTO invoices (customer, amount) VALUES ('from-postgres', 99.95) RETURNING id`,
    );
    const order = await waitFor(
      'MariaDB row in Postgres',
      async () => (await q(pgDst, `SELECT id, item, qty FROM shop.orders WHERE item = 'from-mariadb'`))[0],
      30000,
      200,
    );
    assert.equal(Number(order.qty), 42);
    assert.equal(Number(order.id), 2);
    const invoice = await waitFor(
      'Postgres row in MariaDB',
      async () =>
        (await q(myDst, `SELECT CAST(amount AS CHAR) AS amount, customer FROM invoices WHERE id = ?`, [inv.id]))[0],
      30000,
      200,
    );
    assert.equal(invoice.customer, 'from-postgres');
    assert.equal(invoice.amount, '99.95');
    for (const name of ['shop-to-analytics', 'billing-to-reporting']) {
      const p = await one(api, 'pipelines', name);
      await waitFor(
        `${name} Active`,
        async () => (await api.call('GET', `/v1/pipelines/${p.id}/status`)).body.state === 'Active',
        60000,
        500,
      );
    }
  });

  it(
    'a changed attribute of the MySQL destination plans as an in-place ' + 'update and applies; the next plan is empty',
    async () => {
      const before = await one(api, 'destinations', 'reporting');
      const changed: TfEnv = { ...env, vars: { ...env.vars, mysql_batch_size: '1000' } };
      const plan = await runTf(tf!, dir, ['plan', '-input=false'], changed);
      assert.equal(plan.code, 0, plan.out);
      assert.match(plan.out, /sluice_destination_mysql\.reporting will be updated in-place/);
      assert.match(plan.out, /batch_size\s+= 500 -> 1000/);
      assert.match(plan.out, /Plan: 0 to add, 1 to change, 0 to destroy/);
      assert.deepEqual(secretsIn(plan.out), []);
      const r = await ok(dir, ['apply', '-auto-approve', '-input=false'], changed);
      assert.match(r.out, /0 added, 1 changed, 0 destroyed/);
      const afterUpdate = await one(api, 'destinations', 'reporting');
      assert.equal(afterUpdate.id, before.id);
      assert.equal(afterUpdate.config.batch_size, 1000);
      assert.equal(afterUpdate.version, before.version + 1);
      assert.equal((await planCode(dir, changed)).code, 0);
      env = changed;
      // The updated destination still receives rows.
      const [inv] = await q(pgSrc, `INSERT INTO invoices (customer, amount) VALUES ('after-update', 1) RETURNING id`);
      await waitFor(
        'row after the update in MariaDB',
        async () => (await q(myDst, `SELECT 1 FROM invoices WHERE id = ?`, [inv.id])).length > 0,
        30000,
        200,
      );
    },
  );

  it('`terraform import` adopts the MySQL source and destination again after they left the state', async () => {
    const shop = await one(api, 'sources', 'shop-mariadb');
    const reporting = await one(api, 'destinations', 'reporting');
    await ok(dir, ['state', 'rm', 'sluice_source_mysql.shop', 'sluice_destination_mysql.reporting'], env);
    const gone = await runTf(tf!, dir, ['plan', '-input=false'], env);
    assert.match(
      gone.out,
      /sluice_source_mysql\.shop will be created/,
      'without state the source is unknown to Terraform',
    );
    const imp = await ok(dir, ['import', '-input=false', 'sluice_source_mysql.shop', shop.id], env);
    assert.match(imp.out, /Import successful!/);
    await ok(dir, ['import', '-input=false', 'sluice_destination_mysql.reporting', reporting.id], env);
    const show = JSON.parse((await ok(dir, ['show', '-json'], env)).stdout);
    const imported = show.values.root_module.resources.find(
      (x: { address: string }) => x.address === 'sluice_source_mysql.shop',
    ).values;
    assert.equal(imported.id, shop.id);
    assert.equal(imported.server_id, serverId);
    assert.deepEqual(imported.database_include, [dbOf(mySrc)]);
    assert.equal(imported.topic_prefix, `tfmy${tag}s`);
    // Write-only secrets (Terraform >= 1.11) adopt with zero diff; older clients must write both secrets into state once.
    const plan = await planCode(dir, env);
    if (writeOnly) assert.equal(plan.code, 0, plan.out);
    else assert.match(plan.out, /Plan: 0 to add, 2 to change, 0 to destroy/);
    assert.equal((await one(api, 'sources', 'shop-mariadb')).version, shop.version, 'the import changed nothing');
  });

  it('destroy removes every object', async () => {
    const r = await ok(dir, ['destroy', '-auto-approve', '-input=false'], env);
    assert.match(r.out, /Destroy complete! Resources: 6 destroyed/);
    for (const coll of ['sources', 'destinations', 'pipelines']) {
      assert.equal((await api.call('GET', `/v1/${coll}`)).body.total, 0, coll);
    }
  });
});
