import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestApi } from '../helpers';
import { flat, mirror, one, repoRoot, runTf, supportsWriteOnly, TfEnv, TfResult, workdir } from './tf';

/**
 * One full cycle of examples/basic with a given terraform or tofu binary against a real API: offline
 * init from the filesystem mirror, apply, no-op plan, drift shown and repaired, `import` (the command)
 * and import blocks into fresh states, destroy. The Terraform 1.5 and OpenTofu tests run it, so the
 * oldest versions the docs claim go through the same steps as the terraform on PATH.
 */
export async function basicCycle(bin: string, api: TestApi, expectVersion: RegExp): Promise<void> {
  const env0 = { ...process.env, TF_CLI_CONFIG_FILE: mirror().cliConfigFile };
  const version = JSON.parse(
    spawnSync(bin, ['version', '-json'], { encoding: 'utf8', env: env0 }).stdout || '{}',
  ).terraform_version;
  assert.match(String(version), expectVersion, `${bin} version`);
  const writeOnly = supportsWriteOnly(bin);
  const vars = {
    source_password: `pw-src-${version}`,
    destination_password: `pw-dst-${version}`,
    mask_salt: `salt-${version}`,
  };
  const env: TfEnv = { endpoint: api.url, token: api.token, vars };
  const run = async (dir: string, args: string[], over: Partial<TfEnv> = {}): Promise<TfResult> => {
    const r = await runTf(bin, dir, args, { ...env, ...over });
    assert.equal(r.code, 0, `${path.basename(bin)} ${args.join(' ')} failed:\n${r.out}`);
    return r;
  };
  const plan = async (dir: string, over: Partial<TfEnv> = {}): Promise<TfResult> => {
    const r = await runTf(bin, dir, ['plan', '-detailed-exitcode', '-input=false'], { ...env, ...over });
    assert.notEqual(r.code, 1, r.out);
    return r;
  };
  // No network: an unroutable proxy makes any registry access fail, so the mirror alone must do.
  const offline = { HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9' };

  const dir = workdir({}, path.join(repoRoot, 'examples/basic'));
  const init = await run(dir, ['init', '-input=false'], { extra: offline });
  assert.match(init.out, /Installed sluice\.local\/sluice\/sluice v0\.1\.0/);
  const applied = await run(dir, ['apply', '-auto-approve', '-input=false']);
  assert.match(applied.out, /Apply complete! Resources: 4 added, 0 changed, 0 destroyed/);
  const src = await one(api, 'sources', 'shop');
  const dst = await one(api, 'destinations', 'warehouse');
  const pl = await one(api, 'pipelines', 'orders-to-warehouse');
  assert.equal(src.config.slot_name, 'sluice_orders');
  assert.equal(pl.source_id, src.id);
  assert.equal(pl.destination_id, dst.id);
  const state = fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8');
  for (const v of Object.values(vars))
    assert.equal(state.includes(v), !writeOnly, `secret ${v} in the state: write-only=${writeOnly}`);
  assert.match(
    state,
    /"sensitive_attributes": \[\s*\[\s*\{[^\]]*"value": "password"/,
    'secrets are marked sensitive in the state',
  );
  assert.equal((await plan(dir)).code, 0, 'no changes right after apply');

  // Drift made through the API shows in the plan; apply restores the configuration.
  assert.equal((await api.call('PATCH', `/v1/destinations/${dst.id}`, { config: { batch_size: 42 } })).status, 200);
  const drift = await plan(dir);
  assert.equal(drift.code, 2, drift.out);
  assert.match(drift.out, /batch_size\s+= 42 -> 500/);
  await run(dir, ['apply', '-auto-approve', '-input=false']);
  assert.equal((await one(api, 'destinations', 'warehouse')).config.batch_size, 500);
  assert.equal((await plan(dir)).code, 0);

  // The exported topology, adopted into a fresh state with `import` (the command) ...
  const hcl = (await api.call('GET', '/v1/export?format=hcl')).text;
  const exportVars: Record<string, string> = {};
  for (const [, name] of hcl.matchAll(/variable "([^"]+)"/g)) {
    const kind = name.split('_')[0];
    exportVars[name] =
      kind === 'source' ? vars.source_password : kind === 'destination' ? vars.destination_password : vars.mask_salt;
  }
  assert.equal(Object.keys(exportVars).length, 3, `secret variables of the export: ${Object.keys(exportVars)}`);
  const imported = workdir({ 'main.tf': hcl });
  await run(imported, ['init', '-input=false'], { vars: exportVars, extra: offline });
  const tr = await one(api, 'transforms', 'mask-customer-email');
  const ids: Record<string, string> = {
    source_postgresql: src.id,
    destination_postgresql: dst.id,
    transform_mask_fields: tr.id,
    pipeline: pl.id,
  };
  const address = (type: string) => {
    const label = new RegExp(`resource "sluice_${type}" "([^"]+)"`).exec(hcl)?.[1];
    assert.ok(label, `sluice_${type} in the export`);
    return `sluice_${type}.${label}`;
  };
  const unknownId = ['import', '-input=false', address('pipeline'), '00000000-0000-0000-0000-000000000000'];
  const nobody = await runTf(bin, imported, unknownId, { ...env, vars: exportVars });
  assert.equal(nobody.code, 1);
  assert.match(flat(nobody.out), /no pipeline with id "00000000-0000-0000-0000-000000000000"/);
  for (const [type, id] of Object.entries(ids)) {
    const r = await run(imported, ['import', '-input=false', address(type), id], { vars: exportVars });
    assert.match(r.out, /Import successful/);
  }
  // Without write-only attributes the three secrets are written into the new state once.
  const adopted = await plan(imported, { vars: exportVars });
  if (writeOnly) assert.equal(adopted.code, 0, adopted.out);
  else assert.match(adopted.out, /Plan: 0 to add, 3 to change, 0 to destroy/);
  await run(imported, ['apply', '-auto-approve', '-input=false'], { vars: exportVars });
  assert.equal((await plan(imported, { vars: exportVars })).code, 0);

  // ... and with import blocks (Terraform >= 1.5, OpenTofu >= 1.5).
  const blocks = workdir({ 'main.tf': (await api.call('GET', '/v1/export?format=hcl&import_blocks=true')).text });
  await run(blocks, ['init', '-input=false'], { vars: exportVars, extra: offline });
  const blockPlan = await run(blocks, ['plan', '-input=false'], { vars: exportVars });
  assert.match(
    flat(blockPlan.out),
    new RegExp(`Plan: 4 to import, 0 to add, ${writeOnly ? 0 : 3} to change, 0 to destroy`),
  );
  await run(blocks, ['apply', '-auto-approve', '-input=false'], { vars: exportVars });
  assert.equal((await plan(blocks, { vars: exportVars })).code, 0);

  const destroyed = await run(dir, ['destroy', '-auto-approve', '-input=false']);
  assert.match(destroyed.out, /Destroy complete! Resources: 4 destroyed/);
  for (const coll of ['sources', 'destinations', 'transforms', 'pipelines']) {
    assert.equal((await api.call('GET', `/v1/${coll}`)).body.total, 0, coll);
  }
}
