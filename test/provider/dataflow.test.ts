import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, startTestApi, TestApi } from '../helpers';
import { dropReplicationSlot, q, spawnWorker, stopWorker, waitFor, Worker } from '../dataplane/harness';
import { defaultTf, mirror, repoRoot, runTf, TfEnv, workdir } from './tf';

/**
 * examples/basic applied with terraform against a real data plane: a row inserted into the source
 * reaches the destination (email masked by the transform), and sluice_pipeline_status reports the
 * pipeline Active.
 */
let tf: string;
let api: TestApi;
let worker: Worker | undefined;
let apiB: TestApi | undefined;
let workerB: Worker | undefined;
let secrets: Record<string, string> | undefined;
let srcUrl = '';
let dstUrl = '';
const tag = crypto.randomBytes(3).toString('hex');
const slot = `tf_slot_${tag}`;

before(async () => {
  tf = await defaultTf();
  api = await startTestApi();
  [srcUrl, dstUrl] = await Promise.all([freshDatabase('tf_src'), freshDatabase('tf_dst')]);
  await q(
    srcUrl,
    'CREATE TABLE orders (id serial PRIMARY KEY, customer_email text, ' +
      'total int); INSERT INTO orders (customer_email, total) VALUES ' +
      "('first@example.com', 10)",
  );
  worker = spawnWorker(api);
  mirror();
});
after(async () => {
  for (const w of [worker, workerB]) if (w) await stopWorker(w, 'SIGTERM').catch(() => undefined);
  await apiB?.close();
  // Leave no replication slot behind on the shared test Postgres (it would pin WAL for the rest of the run).
  await dropReplicationSlot(srcUrl, slot);
  await api?.close();
});

describe('examples/basic on a running data plane', () => {
  it('a row inserted into the source reaches the destination; sluice_pipeline_status reports Active', async () => {
    const su = new URL(srcUrl);
    const du = new URL(dstUrl);
    // override.tf only adapts the example to this test's databases and Kafka topics.
    const dir = workdir(
      {
        'override.tf':
          `resource "sluice_source_postgresql" "shop" {\n  tls_mode     = "disable"\n  topic_prefix = "tf${tag}"\n  publication_name = ` +
          `"tf_pub_${tag}"\n  heartbeat_interval_ms = 1000\n}\nresource "sluice_destination_postgresql" "warehouse" {\n  tls_mode = "disable"\n}\n`,
        'status.tf':
          'data "sluice_pipeline_status" "orders" {\n  pipeline_id = sluice_pipeline.orders.id\n}\n' +
          'output "state" {\n  value = data.sluice_pipeline_status.orders.state\n}\n',
      },
      path.join(repoRoot, 'examples/basic'),
    );
    const env: TfEnv = {
      endpoint: api.url,
      token: api.token,
      vars: {
        source_host: su.hostname,
        source_port: su.port,
        source_database: su.pathname.slice(1),
        source_user: decodeURIComponent(su.username),
        source_password: decodeURIComponent(su.password),
        destination_host: du.hostname,
        destination_port: du.port,
        destination_database: du.pathname.slice(1),
        destination_user: decodeURIComponent(du.username),
        destination_password: decodeURIComponent(du.password),
        mask_salt: 'pepper',
        slot_name: slot,
      },
    };
    for (const args of [
      ['init', '-input=false'],
      ['apply', '-auto-approve', '-input=false'],
    ]) {
      const r = await runTf(tf!, dir, args, env);
      assert.equal(r.code, 0, r.out);
    }
    await waitFor(
      'snapshot row in the destination',
      async () => (await q(dstUrl, `SELECT 1 FROM raw.orders WHERE id = 1`).catch(() => [])).length > 0,
      90000,
      500,
    );
    const [row] = await q(
      srcUrl,
      `INSERT INTO orders (customer_email, total) VALUES ('new@example.com', 42) RETURNING id`,
    );
    const got = await waitFor(
      'inserted row in the destination',
      async () => (await q(dstUrl, `SELECT customer_email, total FROM raw.orders WHERE id = $1`, [row.id]))[0],
      30000,
      200,
    );
    assert.equal(Number(got.total), 42);
    assert.notEqual(got.customer_email, 'new@example.com', 'the mask transform ran');
    assert.match(String(got.customer_email), /^[0-9a-f]{64}$/);

    await waitFor(
      'pipeline Active via the data source',
      async () => {
        const r = await runTf(tf!, dir, ['apply', '-auto-approve', '-input=false', '-refresh-only'], env);
        const out = await runTf(tf!, dir, ['output', '-raw', 'state'], env);
        return r.code === 0 && out.stdout.trim() === 'Active';
      },
      60000,
      1000,
    );
    const plan = await runTf(tf!, dir, ['plan', '-detailed-exitcode', '-input=false'], env);
    assert.equal(plan.code, 0, plan.out);
    secrets = {
      source_shop_password: env.vars!.source_password,
      destination_warehouse_password: env.vars!.destination_password,
      transform_mask_customer_email_salt: 'pepper',
    };
  });

  it(
    'examples/disaster-recovery/recover.sh rebuilds the environment in an ' + 'empty one, and its pipeline runs there',
    async () => {
      assert.ok(secrets, 'needs the previous test');
      // Environment A loses its data plane (its worker stops); its API still answers the export.
      await stopWorker(worker!, 'SIGTERM');
      worker = undefined;
      const b = await startTestApi();
      apiB = b;
      workerB = spawnWorker(b);
      const work = workdir();
      const tfvars = path.join(work, 'secrets.tfvars');
      fs.writeFileSync(
        tfvars,
        Object.entries(secrets)
          .map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`)
          .join(''),
      );
      const sluiceBin = path.join(work, 'sluice');
      fs.writeFileSync(
        sluiceBin,
        `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(repoRoot, 'dist/bin/sluice.js'))} "$@"\n`,
        { mode: 0o755 },
      );
      // Asynchronously: both APIs run inside this test process.
      const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn('bash', [path.join(repoRoot, 'examples/disaster-recovery/recover.sh')], {
          cwd: work,
          timeout: 180_000,
          env: {
            ...process.env,
            A_ENDPOINT: api.url,
            A_TOKEN: api.token,
            B_ENDPOINT: b.url,
            B_TOKEN: b.token,
            SECRETS_TFVARS: tfvars,
            WORKDIR: path.join(work, 'recovered'),
            TERRAFORM: tf!,
            SLUICE_BIN: sluiceBin,
            TF_CLI_CONFIG_FILE: mirror().cliConfigFile,
            CHECKPOINT_DISABLE: '1',
            TF_IN_AUTOMATION: '1',
          },
        });
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d) => {
          stdout += d;
        });
        child.stderr!.on('data', (d) => {
          stderr += d;
        });
        child.on('error', reject);
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
      const out = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 0, out);
      assert.match(out, /No changes\./);
      assert.match(out, /PASS orders-to-warehouse state: Active/);
      assert.match(out, /PASS orders-to-warehouse row_count public\.orders/);
      assert.match(out, /recovered: B runs A.s topology/);
      if (process.env.SLUICE_TEST_VERBOSE) process.stdout.write(out);
      // New rows flow through B.
      const [row] = await q(
        srcUrl,
        `INSERT INTO orders (customer_email, total) VALUES ('after-dr@example.com', 7) RETURNING id`,
      );
      await waitFor(
        'row written by B',
        async () => (await q(dstUrl, `SELECT 1 FROM raw.orders WHERE id = $1`, [row.id])).length > 0,
        30000,
        200,
      );
    },
  );
});
