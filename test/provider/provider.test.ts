import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectorSpecs, resourceType, secretFields } from '../../connectors';
import { pipelineSpec } from '../../core/pipeline-spec';
import { sampleConfigs, startTestApi, TestApi } from '../helpers';
import { flat, mirror, ok, one, planCode, repoRoot, resolveTf, runTf, supportsWriteOnly, TfEnv, workdir } from './tf';
import { providerSource } from '../../core/names';

/** The required_providers block every test configuration starts with. */
const requireSluice = `terraform {\n  required_providers {\n    sluice = { source = "${providerSource}" }\n  }\n}\n`;

/**
 * End-to-end tests of the Terraform provider with a real terraform binary against real APIs:
 * `a` runs examples/basic (create, update, replace, drift, errors, destroy), `b` is a topology built
 * through the API (adopted with import blocks, then the source of the disaster-recovery export),
 * `c` is the empty environment the export is applied to.
 */

let tf: string;
/** Terraform >= 1.11 gets write-only secrets; older clients keep the configured secret in state. */
let writeOnly = false;
let a: TestApi;
let b: TestApi;
let c: TestApi;
const basicDir = workdir({}, path.join(repoRoot, 'examples/basic'));
const basicVars = { source_password: 'pw-basic-src', destination_password: 'pw-basic-dst', mask_salt: 'salt-basic' };
const envA = (over: Partial<TfEnv> = {}): TfEnv => ({ endpoint: a.url, token: a.token, vars: basicVars, ...over });
const statePath = path.join(basicDir, 'terraform.tfstate');

before(async () => {
  tf = await resolveTf();
  writeOnly = supportsWriteOnly(tf);
  [a, b, c] = await Promise.all([startTestApi(), startTestApi(), startTestApi()]);
  mirror();
});
after(async () => {
  await Promise.all([a?.close(), b?.close(), c?.close()]);
});

describe('terraform provider', () => {
  it(
    '`sluice provider install` fills a filesystem mirror and prints the ' + 'CLI config; init then works offline',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-install-'));
      const r = spawnSync(
        process.execPath,
        [
          path.join(repoRoot, 'dist/bin/sluice.js'),
          'provider',
          'install',
          '--dir',
          path.join(dir, 'mirror'),
          '--cli-config',
          path.join(dir, 'cli.tfrc'),
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /export TF_CLI_CONFIG_FILE=.*cli\.tfrc/);
      assert.match(r.stdout, /filesystem_mirror/);
      const exe = path.join(
        dir,
        'mirror/sluice.local/sluice/sluice/0.1.0',
        `${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}`,
        'terraform-provider-sluice_v0.1.0',
      );
      assert.ok(fs.statSync(exe).mode & 0o100, 'executable');
      const cfg = fs.readFileSync(path.join(dir, 'cli.tfrc'), 'utf8');
      assert.match(cfg, /exclude = \["sluice\.local\/\*\/\*"\]/);
      const work = workdir({ 'main.tf': requireSluice });
      // No network: an unroutable proxy makes any registry access fail.
      const init = await runTf(
        tf!,
        work,
        ['init', '-input=false'],
        envA({
          extra: {
            TF_CLI_CONFIG_FILE: path.join(dir, 'cli.tfrc'),
            HTTPS_PROXY: 'http://127.0.0.1:9',
            HTTP_PROXY: 'http://127.0.0.1:9',
          },
        }),
      );
      assert.equal(init.code, 0, init.out);
      assert.match(init.out, /Installed sluice\.local\/sluice\/sluice v0\.1\.0/);
    },
  );

  it('serves schemas derived from the connector and pipeline declarations', async () => {
    const dir = workdir({ 'main.tf': requireSluice });
    await ok(dir, ['init', '-input=false'], envA());
    const r = await ok(dir, ['providers', 'schema', '-json'], envA());
    const schema = JSON.parse(r.stdout).provider_schemas['sluice.local/sluice/sluice'];
    for (const spec of connectorSpecs) {
      const attrs = schema.resource_schemas[resourceType(spec)]?.block.attributes;
      assert.ok(attrs, `resource ${resourceType(spec)} missing`);
      assert.deepEqual(
        Object.keys(attrs).sort(),
        [...Object.keys(spec.fields), 'name', 'tags', 'id', 'version', 'created_at', 'updated_at'].sort(),
      );
      for (const [k, f] of Object.entries(spec.fields)) {
        assert.equal(
          !!attrs[k].required,
          !!f.required && f.default === undefined,
          `${resourceType(spec)}.${k} required`,
        );
        assert.equal(!!attrs[k].sensitive, !!f.sensitive, `${resourceType(spec)}.${k} sensitive`);
        if (f.sensitive && writeOnly) assert.equal(attrs[k].write_only, true, `${resourceType(spec)}.${k} write-only`);
        assert.ok(attrs[k].description.startsWith(f.description), `${k} description comes from the declaration`);
      }
      assert.equal(attrs.id.computed, true);
      assert.ok(schema.data_source_schemas[resourceType(spec)], `data source ${resourceType(spec)}`);
    }
    const p = schema.resource_schemas.sluice_pipeline.block.attributes;
    for (const k of Object.keys(pipelineSpec.fields)) assert.ok(p[k], `sluice_pipeline.${k}`);
    assert.deepEqual(Object.keys(p.delivery.nested_type.attributes).sort(), [
      'backoff_initial_ms',
      'backoff_max_ms',
      'max_retries',
    ]);
    assert.ok(schema.data_source_schemas.sluice_pipeline_status);
    assert.equal(schema.provider.block.attributes.token.sensitive, true);
  });

  it(
    'applies examples/basic: the objects exist through the API; secrets ' +
      'never reach the state; a plan shows no changes',
    async () => {
      await ok(basicDir, ['init', '-input=false'], envA());
      const r = await ok(basicDir, ['apply', '-auto-approve', '-input=false'], envA());
      assert.match(r.out, /Apply complete! Resources: 4 added, 0 changed, 0 destroyed/);
      const src = await one(a, 'sources', 'shop');
      const dst = await one(a, 'destinations', 'warehouse');
      const tr = await one(a, 'transforms', 'mask-customer-email');
      const pl = await one(a, 'pipelines', 'orders-to-warehouse');
      assert.equal(src.kind, 'postgresql');
      assert.deepEqual(src.config.table_include, ['public.orders']);
      assert.equal(src.config.slot_name, 'sluice_orders');
      assert.deepEqual(src.tags, { team: 'orders' });
      assert.equal(src.config.password, undefined, 'secrets are never returned');
      assert.equal(dst.config.schema, 'raw');
      assert.equal(tr.kind, 'mask_fields');
      assert.equal(pl.source_id, src.id);
      assert.equal(pl.destination_id, dst.id);
      assert.deepEqual(pl.transform_ids, [tr.id]);
      assert.deepEqual(pl.delivery, { max_retries: 5, backoff_initial_ms: 500, backoff_max_ms: 30000 });
      const st = (await a.call('GET', `/v1/pipelines/${pl.id}/status`)).body;
      const tfState = JSON.parse(fs.readFileSync(statePath, 'utf8'));
      const plState = tfState.resources.find((r: { type: string }) => r.type === 'sluice_pipeline').instances[0]
        .attributes;
      assert.equal(plState.state, st.state, 'the pipeline resource carries its live state');
      // The secrets were stored (encrypted) by the API...
      const rows = await a.ds.query(`SELECT name, secrets FROM connectors ORDER BY name`);
      assert.ok(
        rows.every((x: { secrets: Record<string, string> }) =>
          Object.values(x.secrets).every((v) => v.startsWith('v1:')),
        ),
      );
      assert.equal(rows.filter((x: { secrets: object }) => Object.keys(x.secrets).length).length, 3);
      // ... and, where Terraform supports write-only attributes, never written to the state.
      const state = fs.readFileSync(statePath, 'utf8');
      for (const v of Object.values(basicVars))
        assert.equal(state.includes(v), !writeOnly, `secret ${v} in the state: write-only=${writeOnly}`);
      assert.match(
        state,
        /"sensitive_attributes": \[\s*\[\s*\{[^\]]*"value": "password"/,
        'secrets are marked sensitive in the state',
      );
      // Every change was audited as coming from terraform.
      const audit = (await a.call('GET', '/v1/audit?page_size=100')).body.items;
      assert.equal(audit.length, 4);
      assert.ok(audit.every((e: { origin: string }) => e.origin === 'terraform'));
      // A no-op plan; the provider processes exit on Terraform's Shutdown call instead of being killed after a wait.
      const log = path.join(basicDir, 'tf-debug.log');
      const plan = await runTf(
        tf!,
        basicDir,
        ['plan', '-detailed-exitcode', '-input=false'],
        envA({ extra: { TF_LOG: 'debug', TF_LOG_PATH: log } }),
      );
      assert.equal(plan.code, 0, plan.out);
      const debug = fs.readFileSync(log, 'utf8');
      assert.ok((debug.match(/provider: plugin exited/g) ?? []).length >= 2, 'provider processes exited');
      assert.doesNotMatch(debug, /plugin failed to exit gracefully/);
      fs.rmSync(log);
    },
  );

  it('updates in place, including a change of a write-only secret alone', async () => {
    const before = await one(a, 'destinations', 'warehouse');
    const r = await ok(basicDir, ['apply', '-auto-approve', '-input=false', '-var', 'batch_size=1000'], envA());
    assert.match(r.out, /batch_size\s+= 500 -> 1000/);
    assert.match(r.out, /0 added, 1 changed, 0 destroyed/);
    const afterUpdate = await one(a, 'destinations', 'warehouse');
    assert.equal(afterUpdate.id, before.id);
    assert.equal(afterUpdate.config.batch_size, 1000);
    assert.equal(afterUpdate.version, before.version + 1);

    const secretBefore = (await a.ds.query(`SELECT secrets FROM connectors WHERE id = $1`, [before.id]))[0].secrets
      .password;
    const vars = { ...basicVars, destination_password: 'pw-rotated' };
    const plan = await planCode(basicDir, envA({ vars, extra: { TF_VAR_batch_size: '1000' } }));
    assert.equal(plan.code, 2, 'a rotated secret is a change');
    await ok(
      basicDir,
      ['apply', '-auto-approve', '-input=false'],
      envA({ vars, extra: { TF_VAR_batch_size: '1000' } }),
    );
    const secretAfter = (await a.ds.query(`SELECT secrets FROM connectors WHERE id = $1`, [before.id]))[0].secrets
      .password;
    assert.notEqual(secretAfter, secretBefore);
    Object.assign(basicVars, { destination_password: 'pw-rotated' });
    assert.equal((await planCode(basicDir, envA({ extra: { TF_VAR_batch_size: '1000' } }))).code, 0);
  });

  it('replaces only where a field forces it (slot_name -> new source and new pipeline)', async () => {
    const src = await one(a, 'sources', 'shop');
    const pl = await one(a, 'pipelines', 'orders-to-warehouse');
    const dst = await one(a, 'destinations', 'warehouse');
    const extra = { TF_VAR_batch_size: '1000', TF_VAR_slot_name: 'sluice_orders_v2' };
    const plan = await runTf(tf!, basicDir, ['plan', '-input=false'], envA({ extra }));
    assert.match(plan.out, /sluice_source_postgresql\.shop must be replaced/);
    assert.match(plan.out, /slot_name\s+= "sluice_orders" -> "sluice_orders_v2" # forces replacement/);
    assert.match(plan.out, /sluice_pipeline\.orders must be replaced/);
    assert.match(plan.out, /Plan: 2 to add, 0 to change, 2 to destroy/);
    await ok(basicDir, ['apply', '-auto-approve', '-input=false'], envA({ extra }));
    const src2 = await one(a, 'sources', 'shop');
    const pl2 = await one(a, 'pipelines', 'orders-to-warehouse');
    assert.notEqual(src2.id, src.id);
    assert.equal((await a.call('GET', `/v1/sources/${src.id}`)).status, 404);
    assert.equal(pl2.source_id, src2.id);
    assert.notEqual(pl2.id, pl.id);
    assert.equal((await one(a, 'destinations', 'warehouse')).id, dst.id, 'the destination is untouched');
  });

  it("shows drift made through the API in the next plan, and apply restores the code's version", async () => {
    const extra = { TF_VAR_batch_size: '1000', TF_VAR_slot_name: 'sluice_orders_v2' };
    const dst = await one(a, 'destinations', 'warehouse');
    const pl = await one(a, 'pipelines', 'orders-to-warehouse');
    assert.equal(
      (await a.call('PATCH', `/v1/destinations/${dst.id}`, { config: { batch_size: 42 }, tags: { owner: 'api' } }))
        .status,
      200,
    );
    assert.equal((await a.call('POST', `/v1/pipelines/${pl.id}/pause`)).status, 200);
    const plan = await planCode(basicDir, envA({ extra }));
    assert.equal(plan.code, 2);
    assert.match(plan.out, /batch_size\s+= 42 -> 1000/);
    assert.match(plan.out, /"owner" = "api" -> null/);
    assert.match(plan.out, /desired_state\s+= "paused" -> "running"/);
    await ok(basicDir, ['apply', '-auto-approve', '-input=false'], envA({ extra }));
    const dst2 = await one(a, 'destinations', 'warehouse');
    assert.equal(dst2.config.batch_size, 1000);
    assert.deepEqual(dst2.tags, {});
    assert.equal((await one(a, 'pipelines', 'orders-to-warehouse')).desired_state, 'running');

    // An object deleted outside Terraform is planned for creation again.
    assert.equal((await a.call('DELETE', `/v1/pipelines/${pl.id}`)).status, 204);
    const plan2 = await runTf(tf!, basicDir, ['plan', '-input=false'], envA({ extra }));
    assert.match(plan2.out, /sluice_pipeline\.orders will be created/);
    await ok(basicDir, ['apply', '-auto-approve', '-input=false'], envA({ extra }));
    assert.equal((await planCode(basicDir, envA({ extra }))).code, 0);
  });

  it('points validation errors at the attribute (plan-time checks and API errors at apply)', async () => {
    const dir = workdir({
      'main.tf': `${requireSluice}resource "sluice_source_postgresql" "bad" {
  name      = "bad"
  host      = "127.0.0.1"
  database  = "shop"
  user      = "cdc"
  port      = 70000
  slot_name = "Not-A-Slot"
}
`,
    });
    await ok(dir, ['init', '-input=false'], envA());
    const r = await runTf(tf!, dir, ['plan', '-input=false'], envA());
    assert.equal(r.code, 1);
    assert.match(r.out, /Invalid value for port/);
    assert.match(flat(r.out), /port must be at most 65535, got 70000/);
    assert.match(r.out, /on main\.tf line 11, in resource "sluice_source_postgresql" "bad":\n\s*11:\s+port\s+= 70000/);
    assert.match(
      r.out,
      /on main\.tf line 12, in resource "sluice_source_postgresql" "bad":\n\s*12:\s+slot_name = "Not-A-Slot"/,
    );

    // A rule only the API knows (the referenced object must exist and be of the right category) comes back as a diagnostic on the attribute.
    const src = await one(a, 'sources', 'shop');
    const dst = await one(a, 'destinations', 'warehouse');
    fs.writeFileSync(
      path.join(dir, 'main.tf'),
      `${requireSluice}resource "sluice_pipeline" "p" {
  name           = "bad-reference"
  source_id      = "${src.id}"
  destination_id = "${src.id}"
  delivery = {
    backoff_initial_ms = 5000
    backoff_max_ms     = 10000
  }
}
resource "sluice_destination_postgresql" "dup" {
  name     = "warehouse"
  host     = "127.0.0.1"
  database = "other"
  user     = "u"
}
`,
    );
    const r2 = await runTf(tf!, dir, ['apply', '-auto-approve', '-input=false'], envA());
    assert.equal(r2.code, 1);
    assert.match(flat(r2.out), new RegExp(`${src.id} is a source, not a destination`));
    assert.match(r2.out, /on main\.tf line 9, in resource "sluice_pipeline" "p":\n\s*9:\s+destination_id = "/);
    assert.match(flat(r2.out), /A destination named "warehouse" already exists/);
    assert.match(r2.out, /in resource "sluice_destination_postgresql" "dup":\n\s*\d+:\s+name\s+= "warehouse"/);
    assert.equal((await a.call('GET', '/v1/pipelines?name=bad-reference')).body.total, 0);
  });

  it('a wrong token and an API that is down give clear diagnostics and leave the state unharmed', async () => {
    const extra = { TF_VAR_batch_size: '1000', TF_VAR_slot_name: 'sluice_orders_v2' };
    const before = fs.readFileSync(statePath);
    const wrong = await runTf(
      tf!,
      basicDir,
      ['apply', '-auto-approve', '-input=false', '-var', 'batch_size=7'],
      envA({ token: 'not-a-token', extra }),
    );
    assert.equal(wrong.code, 1);
    assert.match(flat(wrong.out), /Sluice API rejected the token/);
    assert.match(flat(wrong.out), /SLUICE_TOKEN/);
    assert.deepEqual(fs.readFileSync(statePath), before);
    const down = await runTf(
      tf!,
      basicDir,
      ['apply', '-auto-approve', '-input=false', '-var', 'batch_size=7'],
      envA({ endpoint: 'http://127.0.0.1:9', extra }),
    );
    assert.equal(down.code, 1);
    assert.match(flat(down.out), /Sluice API unreachable/);
    assert.match(flat(down.out), /connection refused/);
    assert.deepEqual(fs.readFileSync(statePath), before);
    assert.equal((await one(a, 'destinations', 'warehouse')).config.batch_size, 1000, 'nothing changed');
    assert.equal((await planCode(basicDir, envA({ extra }))).code, 0);
  });

  it('destroy removes everything', async () => {
    const extra = { TF_VAR_batch_size: '1000', TF_VAR_slot_name: 'sluice_orders_v2' };
    const r = await ok(basicDir, ['destroy', '-auto-approve', '-input=false'], envA({ extra }));
    assert.match(r.out, /Destroy complete! Resources: 4 destroyed/);
    for (const coll of ['sources', 'destinations', 'transforms', 'pipelines']) {
      assert.equal((await a.call('GET', `/v1/${coll}`)).body.total, 0, coll);
    }
  });

  // --- b: a topology built through the API, adopted with import blocks, then exported for DR.
  const secretValues: Record<string, string> = {};
  /** Objects with a sensitive field: an old client (no write-only attributes) writes their secrets into state once. */
  const withSecrets = connectorSpecs.filter((spec) => secretFields(spec).length).length;

  it(
    'adopts a topology built through the API with import blocks (every ' + 'resource kind) and a plan of no changes',
    async () => {
      const ids: Record<string, string> = {};
      for (const spec of connectorSpecs) {
        const coll = `${spec.category === 'source' ? 'sources' : spec.category === 'destination' ? 'destinations' : 'transforms'}`;
        const name = spec.kind === 'map_filter' ? 'js ${code} "quoted"' : `imp ${spec.category} ${spec.kind}`;
        const config =
          spec.kind === 'map_filter'
            ? { code: 'function transform(e) {\n  return e; // "q" \\ ${x}\n}\n' }
            : sampleConfigs[`${spec.category}/${spec.kind}`];
        const r = await b.call('POST', `/v1/${coll}`, {
          name,
          kind: spec.kind,
          config,
          tags: spec.kind === 'postgresql' ? { env: 'prod' } : {},
        });
        assert.equal(r.status, 201, r.text);
        ids[`${spec.category}/${spec.kind}`] = r.body.id;
      }
      const p = await b.call('POST', '/v1/pipelines', {
        name: 'imp pipeline',
        source_id: ids['source/postgresql'],
        destination_id: ids['destination/postgresql'],
        transform_ids: [ids['transform/map_filter'], ids['transform/mask_fields']],
        tables: ['public.orders'],
        ingestion_mode: 'append',
        delivery: { max_retries: 3 },
      });
      assert.equal(p.status, 201, p.text);
      await b.call('POST', '/v1/pipelines', {
        name: 'paused one',
        source_id: ids['source/mysql'],
        destination_id: ids['destination/mysql'],
        desired_state: 'paused',
      });

      const hcl = (await b.call('GET', '/v1/export?format=hcl&import_blocks=true')).text;
      const vars = [...hcl.matchAll(/variable "([^"]+)"/g)].map((m) => m[1]);
      // Every sensitive field of every kind becomes a variable named after its object (`imp <category> <kind>`).
      const byVar: Record<string, string> = Object.fromEntries(
        connectorSpecs.flatMap((spec) =>
          secretFields(spec).map((f) => [
            `${spec.category}_imp_${spec.category}_${spec.kind}_${f}`,
            String(sampleConfigs[`${spec.category}/${spec.kind}`][f]),
          ]),
        ),
      );
      assert.deepEqual(vars.sort(), Object.keys(byVar).sort());
      Object.assign(secretValues, byVar);
      const dir = workdir({ 'main.tf': hcl });
      const envB: TfEnv = { endpoint: b.url, token: b.token, vars: byVar };
      await ok(dir, ['init', '-input=false'], envB);
      const plan = await ok(dir, ['plan', '-input=false'], envB);
      // Write-only secrets (Terraform >= 1.11) adopt with zero diff; older clients must write their secrets into state once.
      const imports = connectorSpecs.length + 2; // every kind's object and the two pipelines
      assert.match(
        plan.out,
        new RegExp(`Plan: ${imports} to import, 0 to add, ${writeOnly ? 0 : withSecrets} to change, 0 to destroy`),
      );
      await ok(dir, ['apply', '-auto-approve', '-input=false'], envB);
      assert.equal((await planCode(dir, envB)).code, 0);
      const audit = (await b.call('GET', '/v1/audit?page_size=100')).body.items;
      assert.ok(
        !audit.some(
          (e: { origin: string; changed_fields: string[] }) => e.origin === 'terraform' && e.changed_fields.length,
        ),
        'adoption changed nothing',
      );

      // A secret rotated in the configuration of an adopted object is noticed (the API's dry run
      // compares it) and applied; afterwards the provider's fingerprint knows it.
      const rotated = { ...byVar, destination_imp_destination_mysql_password: 'rotated-after-adoption' };
      const envRotated: TfEnv = { ...envB, vars: rotated };
      const before = (await b.ds.query(`SELECT secrets FROM connectors WHERE name = 'imp destination mysql'`))[0]
        .secrets.password;
      const rplan = await runTf(tf!, dir, ['plan', '-input=false'], envRotated);
      assert.match(rplan.out, /Plan: 0 to add, 1 to change, 0 to destroy/);
      assert.match(rplan.out, /sluice_destination_mysql\.imp_destination_mysql will be updated in-place/);
      await ok(dir, ['apply', '-auto-approve', '-input=false'], envRotated);
      assert.notEqual(
        (await b.ds.query(`SELECT secrets FROM connectors WHERE name = 'imp destination mysql'`))[0].secrets.password,
        before,
      );
      assert.equal((await planCode(dir, envRotated)).code, 0);
      // Put the original back (the DR test below exports this environment with the original secrets).
      await ok(dir, ['apply', '-auto-approve', '-input=false'], envB);
      assert.equal((await planCode(dir, envB)).code, 0);

      // `terraform import` (the command) works the same way.
      const hclNoImports = (await b.call('GET', '/v1/export?format=hcl')).text;
      const dir2 = workdir({ 'main.tf': hclNoImports });
      await ok(dir2, ['init', '-input=false'], envB);
      const wrongKind = await runTf(
        tf!,
        dir2,
        ['import', '-input=false', 'sluice_source_postgresql.imp_source_postgresql', ids['source/mysql']],
        envB,
      );
      assert.equal(wrongKind.code, 1);
      assert.match(flat(wrongKind.out), /is of kind mysql, not postgresql: import it as sluice_source_mysql/);
      for (const [key, id] of Object.entries(ids)) {
        const [category, kind] = key.split('/');
        const label = new RegExp(`resource "sluice_${category}_${kind}" "([^"]+)"`).exec(hclNoImports)![1];
        await ok(dir2, ['import', '-input=false', `sluice_${category}_${kind}.${label}`, id], envB);
      }
      await ok(dir2, ['import', '-input=false', 'sluice_pipeline.imp_pipeline', p.body.id], envB);
      const bad = await runTf(
        tf!,
        dir2,
        ['import', '-input=false', 'sluice_pipeline.paused_one', '00000000-0000-0000-0000-000000000000'],
        envB,
      );
      assert.equal(bad.code, 1);
      assert.match(flat(bad.out), /no pipeline with id "00000000-0000-0000-0000-000000000000"/);
      const planned = await runTf(tf!, dir2, ['plan', '-input=false'], envB);
      assert.match(
        planned.out,
        new RegExp(`Plan: 1 to add, ${writeOnly ? 0 : withSecrets} to change, 0 to destroy`),
        'only the pipeline not imported is missing',
      );
    },
  );

  it(
    'disaster recovery: export A as HCL -> apply to empty B -> plan shows ' + 'no changes -> export B equals export A',
    async () => {
      const hcl = (await b.call('GET', '/v1/export?format=hcl')).text;
      const dir = workdir({ 'main.tf': hcl });
      const envC: TfEnv = { endpoint: c.url, token: c.token, vars: secretValues };
      assert.equal((await c.call('GET', '/v1/sources')).body.total, 0);
      await ok(dir, ['init', '-input=false'], envC);
      const r = await ok(dir, ['apply', '-auto-approve', '-input=false'], envC);
      assert.match(
        r.out,
        new RegExp(`Apply complete! Resources: ${connectorSpecs.length + 2} added, 0 changed, 0 destroyed`),
      );
      assert.equal((await planCode(dir, envC)).code, 0);
      const docB = (await b.call('GET', '/v1/export?format=json')).body;
      const docC = (await c.call('GET', '/v1/export?format=json')).body;
      assert.deepEqual(docC, docB);
      assert.equal((await c.call('GET', '/v1/export?format=hcl')).text, hcl);
      // The secrets were recreated too: the same values as in A.
      const [rowB] = await b.ds.query(`SELECT secrets FROM connectors WHERE name = 'imp transform mask_fields'`);
      const [rowC] = await c.ds.query(`SELECT secrets FROM connectors WHERE name = 'imp transform mask_fields'`);
      assert.ok(rowB.secrets.salt && rowC.secrets.salt);
    },
  );

  it('data sources look objects up by name', async () => {
    const dir = workdir({
      'main.tf': `${requireSluice}data "sluice_source_postgresql" "s" {
  name = "imp source postgresql"
}
data "sluice_pipeline" "p" {
  name = "imp pipeline"
}
output "host" { value = data.sluice_source_postgresql.s.host }
output "tags" { value = data.sluice_source_postgresql.s.tags }
output "source_matches" { value = data.sluice_pipeline.p.source_id == data.sluice_source_postgresql.s.id }
output "max_retries" { value = data.sluice_pipeline.p.delivery.max_retries }
`,
    });
    const envC: TfEnv = { endpoint: c.url, token: c.token };
    await ok(dir, ['init', '-input=false'], envC);
    await ok(dir, ['apply', '-auto-approve', '-input=false'], envC);
    const out = JSON.parse((await ok(dir, ['output', '-json'], envC)).stdout);
    assert.equal(out.host.value, '127.0.0.1');
    assert.deepEqual(out.tags.value, { env: 'prod' });
    assert.equal(out.source_matches.value, true);
    assert.equal(out.max_retries.value, 3);
    fs.appendFileSync(path.join(dir, 'main.tf'), 'data "sluice_source_mysql" "missing" {\n  name = "nope"\n}\n');
    const missing = await runTf(tf!, dir, ['plan', '-input=false'], envC);
    assert.equal(missing.code, 1);
    assert.match(flat(missing.out), /No source named "nope"/);
  });
});
