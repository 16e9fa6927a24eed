import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, startTestApi, TestApi } from '../helpers';
import { q, spawnWorker, stopWorker, waitFor, Worker } from '../dataplane/harness';
import { findBinary, mirror, repoRoot, runTf, TfEnv, workdir } from './tf';

/**
 * examples/basic applied with terraform against a real data plane: a row inserted into the source
 * reaches the destination (email masked by the transform), and sluice_pipeline_status reports the
 * pipeline Active.
 */
const tf = findBinary('terraform') ?? findBinary('tofu');
let api: TestApi;
let worker: Worker | undefined;
let srcUrl = '';
let dstUrl = '';
const tag = crypto.randomBytes(3).toString('hex');
const slot = `tf_slot_${tag}`;

before(async () => {
  assert.ok(tf, 'terraform or tofu must be on PATH');
  api = await startTestApi();
  [srcUrl, dstUrl] = await Promise.all([freshDatabase('tf_src'), freshDatabase('tf_dst')]);
  await q(srcUrl, `CREATE TABLE orders (id serial PRIMARY KEY, customer_email text, total int); INSERT INTO orders (customer_email, total) VALUES ('first@example.com', 10)`);
  worker = spawnWorker(api);
  mirror();
});
after(async () => {
  if (worker) await stopWorker(worker, 'SIGKILL').catch(() => undefined);
  await q(srcUrl, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [slot]).catch(() => undefined);
  await api?.close();
});

describe('examples/basic on a running data plane', () => {
  it('a row inserted into the source reaches the destination; sluice_pipeline_status reports Active', async () => {
    const su = new URL(srcUrl);
    const du = new URL(dstUrl);
    // override.tf only adapts the example to this test's databases and Kafka topics.
    const dir = workdir({
      'override.tf': `resource "sluice_source_postgresql" "shop" {\n  tls_mode     = "disable"\n  topic_prefix = "tf${tag}"\n  publication_name = "tf_pub_${tag}"\n  heartbeat_interval_ms = 1000\n}\nresource "sluice_destination_postgresql" "warehouse" {\n  tls_mode = "disable"\n}\n`,
      'status.tf': 'data "sluice_pipeline_status" "orders" {\n  pipeline_id = sluice_pipeline.orders.id\n}\noutput "state" {\n  value = data.sluice_pipeline_status.orders.state\n}\n',
    }, path.join(repoRoot, 'examples/basic'));
    const env: TfEnv = {
      endpoint: api.url, token: api.token,
      vars: {
        source_host: su.hostname, source_port: su.port, source_database: su.pathname.slice(1), source_user: decodeURIComponent(su.username), source_password: decodeURIComponent(su.password),
        destination_host: du.hostname, destination_port: du.port, destination_database: du.pathname.slice(1), destination_user: decodeURIComponent(du.username), destination_password: decodeURIComponent(du.password),
        mask_salt: 'pepper', slot_name: slot,
      },
    };
    for (const args of [['init', '-input=false'], ['apply', '-auto-approve', '-input=false']]) {
      const r = await runTf(tf!, dir, args, env);
      assert.equal(r.code, 0, r.out);
    }
    await waitFor('snapshot row in the destination', async () => (await q(dstUrl, `SELECT 1 FROM raw.orders WHERE id = 1`).catch(() => [])).length > 0, 90000, 500);
    const [row] = await q(srcUrl, `INSERT INTO orders (customer_email, total) VALUES ('new@example.com', 42) RETURNING id`);
    const got = await waitFor('inserted row in the destination', async () => (await q(dstUrl, `SELECT customer_email, total FROM raw.orders WHERE id = $1`, [row.id]))[0], 30000, 200);
    assert.equal(Number(got.total), 42);
    assert.notEqual(got.customer_email, 'new@example.com', 'the mask transform ran');
    assert.match(String(got.customer_email), /^[0-9a-f]{64}$/);

    await waitFor('pipeline Active via the data source', async () => {
      const r = await runTf(tf!, dir, ['apply', '-auto-approve', '-input=false', '-refresh-only'], env);
      const out = await runTf(tf!, dir, ['output', '-raw', 'state'], env);
      return r.code === 0 && out.stdout.trim() === 'Active';
    }, 60000, 1000);
    const plan = await runTf(tf!, dir, ['plan', '-detailed-exitcode', '-input=false'], env);
    assert.equal(plan.code, 0, plan.out);
    const destroy = await runTf(tf!, dir, ['destroy', '-auto-approve', '-input=false'], env);
    assert.equal(destroy.code, 0, destroy.out);
  });
});
