// sluice_alert_channel and sluice_alert_rule with a real terraform: schema from api/alerts/spec.ts,
// apply, write-only secrets, no-op plan, in-place update, replacement on a kind change, drift,
// plan-time validation, import and destroy.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { alertRuleSpec, channelKinds } from '../../core/alert-spec';
import { providerSource } from '../../core/names';
import { sampleConfigs, startTestApi, TestApi } from '../helpers';
import { flat, mirror, ok, one, planCode, resolveTf, runTf, supportsWriteOnly, tfBin, TfEnv, workdir } from './tf';

const EMAIL_SETTINGS =
  'smtp_host  = "127.0.0.1"\n  smtp_tls   = "none"\n  email_from = "sluice@example.com"\n  email_to   = ["oncall@example.com"]';

let api: TestApi;
let env: TfEnv;
const SECRET = 'hook-secret-in-tf';
const head =
  `terraform {\n  required_providers {\n    sluice = { source = "${providerSource}" }\n  }\n}\nvariable "hook_secret" {\n  type      = string\n  ` +
  `sensitive = true\n}\nvariable "slack_url" {\n  type      = string\n  sensitive = true\n}\ndata "sluice_pipeline" "orders" {\n  name = "orders"\n}\n`;
const config = (o: { threshold?: number; mailKind?: string } = {}) => `${head}
resource "sluice_alert_channel" "hook" {
  name           = "ops hook"
  kind           = "webhook"
  webhook_url    = "http://127.0.0.1:9/hook"
  webhook_secret = var.hook_secret
}
resource "sluice_alert_channel" "mail" {
  name       = "${o.mailKind === 'slack' ? 'ops slack' : 'ops mail'}"
  kind       = "${o.mailKind ?? 'email'}"
  ${o.mailKind === 'slack' ? 'slack_webhook_url = var.slack_url' : EMAIL_SETTINGS}
  # A channel in use cannot be deleted (409), so a replacement creates the new one first (under a new name).
  lifecycle {
    create_before_destroy = true
  }
}
resource "sluice_alert_rule" "lag" {
  name        = "orders lagging"
  condition   = "lag_above"
  pipeline_id = data.sluice_pipeline.orders.id
  threshold   = ${o.threshold ?? 1000}
  for_seconds = 120
  channel_ids = [sluice_alert_channel.hook.id, sluice_alert_channel.mail.id]
}
`;

before(async () => {
  await resolveTf(); // terraform or tofu on PATH, else Terraform 1.5.7 built by test/setup.d/terraform.sh
  api = await startTestApi();
  mirror();
  const src = await api.call('POST', '/v1/sources', {
    name: 'src',
    kind: 'postgresql',
    config: sampleConfigs['source/postgresql'],
  });
  const dst = await api.call('POST', '/v1/destinations', {
    name: 'dst',
    kind: 'postgresql',
    config: sampleConfigs['destination/postgresql'],
  });
  assert.equal(
    (await api.call('POST', '/v1/pipelines', { name: 'orders', source_id: src.body.id, destination_id: dst.body.id }))
      .status,
    201,
  );
  env = {
    endpoint: api.url,
    token: api.token,
    vars: { hook_secret: SECRET, slack_url: 'http://127.0.0.1:9/services/T/B/X' },
  };
});
after(async () => {
  await api?.close();
});

it(
  'alert channels and rules: apply, no-op plan, update in place, replace ' +
    'on a kind change, drift, validation, import, destroy',
  async () => {
    const dir = workdir({ 'main.tf': config() });
    await ok(dir, ['init', '-input=false'], env);
    const schema = JSON.parse((await ok(dir, ['providers', 'schema', '-json'], env)).stdout).provider_schemas[
      'sluice.local/sluice/sluice'
    ];
    const ch = schema.resource_schemas.sluice_alert_channel.block.attributes;
    for (const k of channelKinds.flatMap((x) => Object.keys(x.fields))) assert.ok(ch[k], `sluice_alert_channel.${k}`);
    assert.equal(ch.webhook_secret.sensitive, true);
    const rule = schema.resource_schemas.sluice_alert_rule.block.attributes;
    for (const k of Object.keys(alertRuleSpec.fields)) assert.ok(rule[k], `sluice_alert_rule.${k}`);
    assert.ok(schema.data_source_schemas.sluice_alert_rule);

    const applied = await ok(dir, ['apply', '-auto-approve', '-input=false'], env);
    assert.match(applied.out, /Apply complete! Resources: 3 added, 0 changed, 0 destroyed/);
    const hook = await one(api, 'alert-channels', 'ops hook');
    assert.deepEqual(hook.secrets_set, ['webhook_secret']);
    const r = await one(api, 'alert-rules', 'orders lagging');
    assert.equal(r.threshold, 1000);
    assert.equal(r.channel_ids.length, 2);
    const state = fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8');
    assert.equal(state.includes(SECRET), !supportsWriteOnly(tfBin!), 'write-only secrets stay out of the state');
    assert.equal((await planCode(dir, env)).code, 0, 'no changes after apply');
    assert.ok(
      (await api.call('GET', '/v1/audit?page_size=50')).body.items
        .filter((e: any) => e.object_type.startsWith('alert_'))
        .every((e: any) => e.origin === 'terraform'),
    );

    fs.writeFileSync(path.join(dir, 'main.tf'), config({ threshold: 5000 }));
    const upd = await ok(dir, ['apply', '-auto-approve', '-input=false'], env);
    assert.match(upd.out, /Resources: 0 added, 1 changed, 0 destroyed/);
    assert.equal((await one(api, 'alert-rules', 'orders lagging')).threshold, 5000);

    fs.writeFileSync(path.join(dir, 'main.tf'), config({ threshold: 5000, mailKind: 'slack' }));
    const repl = await runTf(tfBin!, dir, ['plan', '-input=false'], env);
    assert.match(repl.out, /sluice_alert_channel\.mail must be replaced/);
    await ok(dir, ['apply', '-auto-approve', '-input=false'], env);
    assert.equal((await one(api, 'alert-channels', 'ops slack')).kind, 'slack');
    assert.equal((await api.call('GET', '/v1/alert-channels?name=ops%20mail')).body.total, 0);
    assert.equal((await planCode(dir, env)).code, 0);

    // Drift made through the API shows in the next plan; apply restores it.
    await api.call('PATCH', `/v1/alert-rules/${(await one(api, 'alert-rules', 'orders lagging')).id}`, {
      for_seconds: 5,
    });
    const drift = await planCode(dir, env);
    assert.equal(drift.code, 2);
    assert.match(drift.out, /for_seconds\s+= 5 -> 120/);
    await ok(dir, ['apply', '-auto-approve', '-input=false'], env);

    // Plan-time checks from the same declarations, pointed at the attribute.
    const badDir = workdir({ 'main.tf': config().replace('"lag_above"', '"sad"') });
    await ok(badDir, ['init', '-input=false'], env);
    const bad = await runTf(tfBin!, badDir, ['plan', '-input=false'], env);
    assert.equal(bad.code, 1);
    assert.match(
      flat(bad.out),
      /condition must be one of broken, lag_above, dlq_above, no_source_event, verify_failing/,
    );

    const leak = workdir({ 'main.tf': config({ mailKind: 'slack' }) });
    await ok(leak, ['init', '-input=false'], env);
    const leaked = await runTf(tfBin!, leak, ['plan', '-input=false'], {
      ...env,
      vars: { hook_secret: SECRET, slack_url: 'not-a-url-but-secret' },
    });
    assert.equal(leaked.code, 1);
    assert.match(flat(leaked.out), /slack_webhook_url must be an http:\/\/ or https:\/\/ URL/);
    assert.ok(!leaked.out.includes('not-a-url-but-secret'), 'a sensitive value is not echoed in the diagnostic');

    // terraform import adopts an existing rule with no changes.
    const impDir = workdir({ 'main.tf': config({ threshold: 5000, mailKind: 'slack' }) });
    await ok(impDir, ['init', '-input=false'], env);
    for (const [addr, coll, name] of [
      ['sluice_alert_channel.hook', 'alert-channels', 'ops hook'],
      ['sluice_alert_channel.mail', 'alert-channels', 'ops slack'],
      ['sluice_alert_rule.lag', 'alert-rules', 'orders lagging'],
    ]) {
      await ok(impDir, ['import', '-input=false', addr, (await one(api, coll, name)).id], env);
    }
    const adopted = await runTf(tfBin!, impDir, ['plan', '-input=false'], env);
    assert.match(adopted.out, /No changes|Plan: 0 to add, [0-2] to change, 0 to destroy/, adopted.out);

    await ok(dir, ['destroy', '-auto-approve', '-input=false'], env);
    assert.equal((await api.call('GET', '/v1/alert-rules')).body.total, 0);
    assert.equal((await api.call('GET', '/v1/alert-channels')).body.total, 0);
  },
);
