import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, startTestApi, TestApi } from '../helpers';
import { mirror, ok, planCode, repoRoot, resolveTf, runTf, supportsWriteOnly, tfBin, TfEnv, workdir } from './tf';

/**
 * examples/destinations (a Postgres source and the four destination kinds beyond row stores: s3,
 * elasticsearch, kafka, webhook) with real terraform against a real API: apply, empty plan, no
 * credential in Terraform's output, the API's answers or the export; then the export (HCL) applied
 * to an empty Sluice, with an empty plan and the same topology after.
 */
const tag = crypto.randomBytes(3).toString('hex');
// Values that occur nowhere else, so finding one in an output is a leak.
const secrets = {
  source_password: `pg-secret-${tag}`,
  s3_access_key_id: `AKIA${tag.toUpperCase()}KEYID`,
  s3_secret_access_key: `s3-secret-${tag}`,
  elasticsearch_password: `es-secret-${tag}`,
  kafka_sasl_password: `sasl-secret-${tag}`,
  webhook_signing_secret: `hmac-secret-${tag}`,
};
const leaks = (text: string) => Object.values(secrets).filter((v) => text.includes(v));
let a: TestApi;
let b: TestApi;

before(async () => {
  await resolveTf();
  a = await startTestApi();
  b = await startTestApi({ databaseUrl: await freshDatabase('sluice_dest_dr') });
  mirror();
});
after(async () => {
  await a?.close();
  await b?.close();
});

describe('examples/destinations with real terraform', () => {
  it(
    'applies, plans empty, keeps every credential out of outputs, and ' + 're-applies its export to an empty Sluice',
    async () => {
      const dir = workdir({}, path.join(repoRoot, 'examples/destinations'));
      const envA: TfEnv = { endpoint: a.url, token: a.token, vars: { ...secrets, slot_name: `dest_${tag}` } };
      await ok(dir, ['init', '-input=false'], envA);
      const applied = await ok(dir, ['apply', '-auto-approve', '-input=false'], envA);
      assert.match(applied.out, /Apply complete! Resources: 9 added, 0 changed, 0 destroyed/);
      const plan = await planCode(dir, envA);
      assert.equal(plan.code, 0, `a second plan shows no changes:\n${plan.out}`);
      assert.deepEqual(leaks(applied.out + plan.out), [], 'no secret in terraform apply/plan output');
      // Write-only attributes (Terraform >= 1.11) keep secrets out of the state as well.
      if (supportsWriteOnly(tfBin!))
        assert.deepEqual(
          leaks(fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8')),
          [],
          'no secret in the state',
        );

      const dests = (await a.call('GET', '/v1/destinations?page_size=50')).body;
      assert.deepEqual(dests.items.map((d: { kind: string }) => d.kind).sort(), [
        'elasticsearch',
        'kafka',
        's3',
        'webhook',
      ]);
      const pipelines = (await a.call('GET', '/v1/pipelines?page_size=50')).body.items;
      assert.equal(pipelines.length, 4);
      const json = await a.call('GET', '/v1/export?format=json');
      const hcl = (await a.call('GET', '/v1/export?format=hcl')).text;
      assert.deepEqual(
        leaks(JSON.stringify(dests) + JSON.stringify(pipelines) + json.text + hcl),
        [],
        'no secret in API answers or exports',
      );
      for (const d of dests.items) {
        for (const field of d.secrets_set) assert.equal(d.config[field], undefined, `${d.name}.${field} is write-only`);
      }

      // Disaster recovery: the export names every secret as a variable; apply it to an empty instance.
      const vars = [...hcl.matchAll(/variable "([^"]+)"/g)].map((m) => m[1]).sort();
      const value: Record<string, string> = {
        source_shop_password: secrets.source_password,
        destination_lake_access_key_id: secrets.s3_access_key_id,
        destination_lake_secret_access_key: secrets.s3_secret_access_key,
        destination_search_password: secrets.elasticsearch_password,
        destination_events_sasl_password: secrets.kafka_sasl_password,
        destination_billing_signing_secret: secrets.webhook_signing_secret,
      };
      assert.deepEqual(vars, Object.keys(value).sort());
      const dr = workdir({ 'main.tf': hcl });
      const envB: TfEnv = { endpoint: b.url, token: b.token, vars: value };
      assert.equal((await b.call('GET', '/v1/destinations')).body.total, 0);
      await ok(dr, ['init', '-input=false'], envB);
      const restored = await ok(dr, ['apply', '-auto-approve', '-input=false'], envB);
      assert.match(restored.out, /Apply complete! Resources: 9 added, 0 changed, 0 destroyed/);
      assert.equal((await planCode(dr, envB)).code, 0, 'the restored instance plans empty');
      assert.deepEqual((await b.call('GET', '/v1/export?format=json')).body, json.body, 'the same topology');
      assert.deepEqual(leaks(restored.out), []);
      // The secrets arrived: stored (encrypted) for every field the original has.
      const stored = async (api: TestApi) =>
        (await api.ds.query(`SELECT name, secrets FROM connectors ORDER BY name`)).map(
          (r: { name: string; secrets: Record<string, string> }) => [r.name, Object.keys(r.secrets ?? {}).sort()],
        );
      assert.deepEqual(await stored(b), await stored(a));
      const destroy = await runTf(tfBin!, dir, ['destroy', '-auto-approve', '-input=false'], envA);
      assert.equal(destroy.code, 0, destroy.out);
      assert.equal((await a.call('GET', '/v1/destinations')).body.total, 0);
    },
  );
});
