import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { providerSource } from '../../core/names';
import { startTestApi, TestApi } from '../helpers';
import { mirror, ok, planCode, resolveTf, runTf, tfBin, TfEnv, workdir } from './tf';

/**
 * sluice_api_token with a real terraform: the API produces the secret, the provider keeps it as a
 * sensitive computed attribute, a configuration hands it on once (an output); any change replaces
 * the token; destroy revokes it.
 */
let api: TestApi;
const dir = workdir({
  'main.tf': `terraform {
  required_providers {
    sluice = { source = "${providerSource}" }
  }
}
provider "sluice" {}
variable "role" {
  type    = string
  default = "viewer"
}
resource "sluice_api_token" "dashboard" {
  name       = "dashboard"
  role       = var.role
  expires_in = 86400
}
output "dashboard_token" {
  value     = sluice_api_token.dashboard.token
  sensitive = true
}
`,
});
const env = (over: Partial<TfEnv> = {}): TfEnv => ({ endpoint: api.url, token: api.token, ...over });
const tokenNamed = async (name: string) =>
  (await api.call('GET', '/v1/tokens?page_size=500')).body.items.find((t: { name: string }) => t.name === name);
const get = (secret: string, p: string) => api.call('GET', p, undefined, { authorization: `Bearer ${secret}` });

before(async () => {
  await resolveTf(); // terraform or tofu on PATH, else Terraform 1.5.7 built by test/setup.d/terraform.sh
  api = await startTestApi();
  mirror();
});
after(async () => {
  await api?.close();
});

describe('sluice_api_token', () => {
  let secret = '';
  it('apply creates the token; its secret is output once, is sensitive and works with its role', async () => {
    await ok(dir, ['init', '-input=false'], env());
    const schema = JSON.parse((await ok(dir, ['providers', 'schema', '-json'], env())).stdout).provider_schemas[
      providerSource
    ];
    const attrs = schema.resource_schemas.sluice_api_token.block.attributes;
    assert.equal(attrs.token.sensitive, true);
    assert.equal(attrs.token.computed, true);
    assert.ok(!attrs.token.optional && !attrs.token.required, 'the secret is produced, never configured');
    assert.equal(attrs.role.required, true);
    assert.equal(schema.data_source_schemas.sluice_api_token, undefined);

    const applied = await ok(dir, ['apply', '-auto-approve', '-input=false'], env());
    assert.match(applied.out, /Apply complete! Resources: 1 added/);
    assert.doesNotMatch(applied.out, /slc_/, 'the secret is not printed');
    const t = await tokenNamed('dashboard');
    assert.equal(t.role, 'viewer');
    assert.equal(t.expires_in, 86400);
    secret = (await ok(dir, ['output', '-raw', 'dashboard_token'], env())).stdout;
    assert.match(secret, /^slc_/);
    assert.equal((await get(secret, '/v1/sources')).status, 200);
    assert.equal((await api.call('POST', '/v1/sources', {}, { authorization: `Bearer ${secret}` })).status, 403);
    const show = await ok(dir, ['show', '-no-color'], env());
    assert.doesNotMatch(show.out, new RegExp(secret));
    assert.match(show.out, /token\s+= \(sensitive value\)/);
    assert.equal((await planCode(dir, env())).code, 0, 'no changes');
    // The audit log shows Terraform made it.
    const audit = (await api.call('GET', '/v1/audit?page_size=50')).body.items.find(
      (e: { object_id: string }) => e.object_id === t.id,
    );
    assert.equal(audit.origin, 'terraform');
  });

  it('a changed role replaces the token: a new secret, the old one stops working', async () => {
    const before = await tokenNamed('dashboard');
    const plan = await runTf(tfBin!, dir, ['plan', '-input=false', '-var', 'role=operator'], env());
    assert.match(plan.out, /sluice_api_token\.dashboard must be replaced/);
    assert.match(plan.out, /role\s+= "viewer" -> "operator" # forces replacement/);
    await ok(dir, ['apply', '-auto-approve', '-input=false', '-var', 'role=operator'], env());
    const after = await tokenNamed('dashboard');
    assert.notEqual(after.id, before.id);
    assert.equal(after.role, 'operator');
    assert.equal((await get(secret, '/v1/sources')).status, 401);
    const next = (await ok(dir, ['output', '-raw', 'dashboard_token'], env())).stdout;
    assert.notEqual(next, secret);
    assert.equal(
      (await api.call('POST', `/v1/pipelines/${after.id}/pause`, undefined, { authorization: `Bearer ${next}` }))
        .status,
      404,
      'operator may pause',
    );
    secret = next;
  });

  it('import adopts a token made elsewhere (its secret stays unknown); destroy revokes', async () => {
    const made = await api.call('POST', '/v1/tokens', { name: 'made-by-api', role: 'admin' });
    fs.writeFileSync(
      path.join(dir, 'adopt.tf'),
      `resource "sluice_api_token" "adopted" {\n  name = "made-by-api"\n  role = "admin"\n}\n`,
    );
    await ok(dir, ['import', '-input=false', '-var', 'role=operator', 'sluice_api_token.adopted', made.body.id], env());
    assert.equal((await planCode(dir, env({ extra: { TF_VAR_role: 'operator' } }))).code, 0, 'adopted without changes');
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8'));
    const adopted = state.resources.find((r: { name: string }) => r.name === 'adopted').instances[0].attributes;
    assert.equal(adopted.token, null);
    await ok(dir, ['destroy', '-auto-approve', '-input=false', '-var', 'role=operator'], env());
    assert.equal(await tokenNamed('dashboard'), undefined);
    assert.equal(await tokenNamed('made-by-api'), undefined);
    assert.equal((await get(secret, '/v1/sources')).status, 401);
  });
});
