import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collections, connectorSpecs, resourceType, secretFields } from '../connectors';
import { block, Expr, HclValue } from '../api/hcl';
import { providerSource } from '../core/names';
import { env, freshDatabase, sampleConfigs } from './helpers';
import {
  dropReplicationSlot,
  q,
  setupPipeline,
  Setup,
  spawnWorker,
  stopWorker,
  waitFor,
  Worker,
} from './dataplane/harness';
import { mirror, ok, resolveTf, runTf, supportsWriteOnly, tfBin, TfEnv, workdir } from './provider/tf';

/**
 * Secrets stay secret, proven: known secret values go in every way there is (the API for every
 * connector kind that declares a sensitive field, tokens, import, Terraform variables), a pipeline
 * runs with real credentials (and one fails on a wrong password), and then everything a user or an
 * operator can see is collected and searched for every value: every API response body and header,
 * the API log, the worker logs, the exports, Terraform's output, TF_LOG trace, plan and state, the
 * audit log and the stored rows.
 *
 * New connector kinds are covered as soon as they are declared (and have a sample config in
 * test/helpers.ts): every sensitive field of every kind gets its own secret, through the API and
 * through Terraform. A kind's runtime (its worker code) is covered once a pipeline of it is added to
 * the "runs a pipeline" step.
 */

const secrets = new Map<string, string>(); // value -> where it was put
const secret = (where: string) => {
  const v = `Sec${crypto.randomBytes(9).toString('hex')}`;
  secrets.set(v, where);
  return v;
};
/** A secret in the form its field takes: where a bare value fails the field's pattern (a header line), as a header's value. */
const shaped = (spec: (typeof connectorSpecs)[number], f: string, v: string) => {
  const p = spec.fields[f].pattern;
  return !p || new RegExp(p).test(v) ? v : `X-Secret: ${v}`;
};
/** Values allowed in exactly these artifacts (a token's secret in its create response; a Terraform-made one in the state). */
const allowedIn = new Map<string, RegExp>();
const artifacts: { name: string; text: string }[] = [];
const collect = (name: string, text: string) => artifacts.push({ name, text });

let s: Setup;
const workers: Worker[] = [];
const slots: [string, string][] = [];
const roles: string[] = [];
const kinds = connectorSpecs.filter((spec) => secretFields(spec).length);

/** A login role with a secret password on the test Postgres, and a URL of `db` that uses it. */
async function role(db: string, what: string): Promise<string> {
  const name = `sec_${crypto.randomBytes(4).toString('hex')}`;
  const password = secret(`${what} database password`);
  await q(env.databaseUrl, `CREATE ROLE ${name} LOGIN SUPERUSER PASSWORD '${password}'`);
  roles.push(name);
  const u = new URL(db);
  u.username = name;
  u.password = password;
  return u.toString();
}

before(async () => {
  await resolveTf(); // terraform or tofu on PATH, else Terraform 1.5.7 built by test/setup.d/terraform.sh
  mirror();
  const srcUrl = await role(await freshDatabase('sec_src'), 'source');
  const dstUrl = await role(await freshDatabase('sec_dst'), 'destination');
  s = await setupPipeline({
    ddl:
      'CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL); ' +
      "INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM " +
      'generate_series(1, 20) g;',
    srcUrl,
    dstUrl,
    transforms: [{ kind: 'mask_fields', config: { fields: ['email'], salt: secret('mask salt') } }],
  });
  slots.push([srcUrl, s.slot]);
});
after(async () => {
  for (const w of workers) await stopWorker(w, 'SIGKILL').catch(() => undefined);
  for (const [url, slot] of slots) await dropReplicationSlot(url, slot).catch(() => undefined);
  await s?.api.close().catch(() => undefined);
  for (const r of roles) await q(env.databaseUrl, `DROP ROLE IF EXISTS ${r}`).catch(() => undefined);
});

describe('secrets never leave Sluice in clear', () => {
  it(
    'through the API: every sensitive field of every kind, rotation, a ' + 'refused request, tokens, import and export',
    async () => {
      const api = s.api;
      assert.ok(kinds.length >= 5, `kinds with secrets: ${kinds.map((k) => k.kind)}`);
      for (const spec of kinds) {
        const coll = `/v1/${collections[spec.category]}`;
        const config = { ...sampleConfigs[`${spec.category}/${spec.kind}`] };
        for (const f of secretFields(spec)) config[f] = shaped(spec, f, secret(`${spec.category} ${spec.kind} ${f}`));
        const c = await api.call('POST', coll, { name: `secret-${spec.kind}`, kind: spec.kind, config });
        assert.equal(c.status, 201, c.text);
        const rotated = Object.fromEntries(
          secretFields(spec).map((f) => [f, shaped(spec, f, secret(`${spec.kind} ${f} rotated`))]),
        );
        assert.equal((await api.call('PATCH', `${coll}/${c.body.id}`, { config: rotated })).status, 200);
        assert.equal(
          (
            await api.call('PUT', `${coll}/${c.body.id}`, {
              name: `secret-${spec.kind}`,
              kind: spec.kind,
              config: { ...config, ...rotated },
            })
          ).status,
          200,
        );
        // Refused requests do not echo what they were sent.
        const bad = await api.call('POST', coll, {
          name: `secret-${spec.kind}-bad`,
          kind: spec.kind,
          config: { ...config, [Object.keys(spec.fields).find((k) => !spec.fields[k].sensitive)!]: { not: 'valid' } },
        });
        assert.equal(bad.status, 400);
        await api.call('GET', `${coll}/${c.body.id}`);
      }
      const t = await api.call('POST', '/v1/tokens', { name: 'secret-test-viewer', role: 'viewer' });
      allowedIn.set(t.body.token, /^response POST \/v1\/tokens -> 201/);
      secrets.set(t.body.token, 'API token made through the API');
      secrets.set(api.token, 'bootstrap token');
      assert.equal(
        (await api.call('GET', '/v1/sources', undefined, { authorization: `Bearer ${t.body.token}` })).status,
        200,
      );
      const doc = (await api.call('GET', '/v1/export?format=json')).body;
      await api.call('GET', '/v1/export?format=hcl&import_blocks=true');
      const imported = await api.call('POST', '/v1/import?dry_run=true', {
        ...doc,
        secrets: Object.fromEntries(
          doc.sources
            .flatMap((x: { config: Record<string, unknown> }) => Object.values(x.config))
            .filter((v: unknown): v is { $secret: string } => !!v && typeof v === 'object' && '$secret' in v)
            .map((v: { $secret: string }) => [v.$secret, secret(`import ${v.$secret}`)]),
        ),
      });
      assert.equal(imported.status, 200, imported.text);
      await api.call('GET', '/v1/audit?page_size=500');
    },
  );

  it('while a pipeline runs with them, and while one fails on a wrong password', async () => {
    const api = s.api;
    workers.push(spawnWorker(api, { SLUICE_LOG_LEVEL: 'debug' }));
    await waitFor(
      'rows masked in the destination',
      async () =>
        Number(
          (
            await q(s.dstUrl, `SELECT count(*) AS n FROM customers WHERE email ~ '^[0-9a-f]{64}$'`).catch(() => [
              { n: 0 },
            ])
          )[0].n,
        ) === 20,
      90_000,
      500,
    );
    await q(s.srcUrl, `INSERT INTO customers (email) VALUES ('late@example.com')`);
    await waitFor(
      'streamed row',
      async () => Number((await q(s.dstUrl, `SELECT count(*) AS n FROM customers`))[0].n) === 21,
      30_000,
      300,
    );
    // A second source on the same database, with a wrong (but known) password.
    const src = (await api.call('GET', `/v1/sources/${s.sourceId}`)).body;
    const wrong = await api.call('POST', '/v1/sources', {
      name: 'wrong-password',
      kind: 'postgresql',
      config: {
        ...src.config,
        password: secret('wrong source password'),
        slot_name: `${s.slot}_w`,
        publication_name: `${s.slot}_wp`,
        topic_prefix: `${s.prefix}w`,
      },
    });
    assert.equal(wrong.status, 201, wrong.text);
    slots.push([s.srcUrl, `${s.slot}_w`]);
    const p = await api.call('POST', '/v1/pipelines', {
      name: 'fails-on-password',
      source_id: wrong.body.id,
      destination_id: s.destinationId,
    });
    assert.equal(p.status, 201, p.text);
    await waitFor(
      'the failing pipeline to report',
      async () =>
        /password authentication failed|Broken/.test(
          JSON.stringify((await api.call('GET', `/v1/pipelines/${p.body.id}/status`)).body),
        ),
      60_000,
      500,
    );
    for (const id of [s.pipelineId, p.body.id]) {
      await api.call('GET', `/v1/pipelines/${id}/status`);
      await api.call('GET', `/v1/pipelines/${id}/verify`);
    }
    await api.call('GET', '/v1/consumer-groups');
    for (const w of workers) await stopWorker(w);
  });

  it('through Terraform: variables for every sensitive field, an API token with its secret as an output', async () => {
    const api = s.api;
    const vars: Record<string, string> = {};
    const shapeOf: Record<string, (v: string) => string> = {}; // variable -> the form of its field
    // Terraform writes input variables into plan files unless they are ephemeral (>= 1.10; write-only
    // attributes take ephemeral values): docs/provider.md recommends them for secrets.
    const writeOnly = supportsWriteOnly(tfBin!);
    const blocks: string[] = [
      `terraform {\n  required_providers {\n    sluice = { source = "${providerSource}" }\n  }\n}\n`,
      'provider "sluice" {}\n',
    ];
    for (const spec of kinds) {
      const attrs: Record<string, HclValue> = { name: `tf-${spec.kind}` };
      for (const [k, v] of Object.entries(sampleConfigs[`${spec.category}/${spec.kind}`]))
        if (!spec.fields[k].sensitive) attrs[k] = v as HclValue;
      for (const f of secretFields(spec)) {
        const name = `${spec.category}_${spec.kind}_${f}`;
        shapeOf[name] = (v) => shaped(spec, f, v);
        vars[name] = shapeOf[name](secret(`terraform variable ${name}`));
        blocks.push(
          `variable "${name}" {\n  type      = string\n  sensitive = true\n${writeOnly ? '  ephemeral = true\n' : ''}}\n`,
        );
        attrs[f] = new Expr(`var.${name}`);
      }
      blocks.push(block(`resource "${resourceType(spec)}" "s"`, attrs));
    }
    blocks.push(
      'resource "sluice_api_token" "ci" {\n  name = "tf-ci"\n  role = "operator"\n}\n',
      'output "ci_token" {\n  value     = sluice_api_token.ci.token\n  sensitive = true\n}\n',
    );
    const dir = workdir({ 'main.tf': blocks.join('\n') });
    const log = path.join(dir, 'tf-trace.log');
    const tf: TfEnv = { endpoint: api.url, token: api.token, vars, extra: { TF_LOG: 'trace', TF_LOG_PATH: log } };
    const run = async (...args: string[]) => collect(`terraform ${args.join(' ')}`, (await ok(dir, args, tf)).out);
    await run('init', '-input=false');
    await run('apply', '-auto-approve', '-input=false');
    await run('plan', '-input=false', '-out=plan.bin');
    await run('show', '-json', 'plan.bin');
    await run('show');
    await run('output');
    // Rotating every secret through Terraform.
    const first = Object.values(vars);
    for (const k of Object.keys(vars)) vars[k] = shapeOf[k](secret(`terraform variable ${k} rotated`));
    await run('apply', '-auto-approve', '-input=false');
    await run('plan', '-input=false', '-detailed-exitcode');
    const state = await ok(dir, ['state', 'pull'], tf);
    const ci = JSON.parse(state.stdout).resources.find((r: { type: string }) => r.type === 'sluice_api_token')
      .instances[0].attributes.token;
    assert.match(ci, /^slc_/);
    secrets.set(ci, 'API token made by Terraform');
    // By design the state holds what Terraform must output later (and a plan file embeds the state); nothing else may.
    const stateAndPlan = /^terraform (state|show -json plan)/;
    allowedIn.set(ci, stateAndPlan);
    // Terraform < 1.11 has no write-only attributes: there the state keeps the configured secrets (docs/provider.md).
    if (!writeOnly) for (const v of [...first, ...Object.values(vars)]) allowedIn.set(v, stateAndPlan);
    collect('terraform state pull', state.stdout);
    collect('terraform state file', fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8'));
    collect('TF_LOG trace', fs.readFileSync(log, 'utf8'));
    assert.ok(fs.statSync(log).size > 100_000, 'the trace log has the run in it');
    const destroyed = await runTf(tfBin!, dir, ['destroy', '-auto-approve', '-input=false'], tf);
    assert.equal(destroyed.code, 0, destroyed.out);
    collect('terraform destroy', destroyed.out);
  });

  it('appear in none of the collected artifacts', async () => {
    const api = s.api;
    for (const r of api.responses) collect(`response ${r.slice(0, r.indexOf('\n'))}`, r);
    collect('API log', api.logLines.join('\n'));
    for (const f of fs.readdirSync(api.home).filter((x) => x.endsWith('.log')))
      collect(`worker log ${f}`, fs.readFileSync(path.join(api.home, f), 'utf8'));
    collect('connectors table', JSON.stringify(await api.ds.query(`SELECT * FROM connectors`)));
    collect('audit log table', JSON.stringify(await api.ds.query(`SELECT * FROM audit_log`)));
    collect('pipeline runtime table', JSON.stringify(await api.ds.query(`SELECT * FROM pipeline_runtime`)));
    collect('api_tokens table', JSON.stringify(await api.ds.query(`SELECT * FROM api_tokens`)));
    // The collection is real: logs at debug level, both workers' output, every kind exported.
    assert.ok(api.logLines.length > 100, `${api.logLines.length} API log lines`);
    const workerLogs = artifacts.filter((a) => a.name.startsWith('worker log'));
    assert.ok(
      workerLogs.length >= 1 && workerLogs.some((a) => a.text.includes(s.pipelineId)),
      'worker logs name the pipeline',
    );
    assert.ok(
      workerLogs.some((a) => /password authentication failed/.test(a.text)),
      'the failing pipeline logged its error',
    );
    assert.ok(
      artifacts.some(
        (a) =>
          a.name.startsWith('response GET /v1/export?format=hcl') &&
          kinds.every((k) => a.text.includes(resourceType(k))),
      ),
    );
    assert.ok(secrets.size >= kinds.length * 4 + 5, `${secrets.size} secrets`);

    const leaks: string[] = [];
    for (const [value, where] of secrets) {
      for (const a of artifacts) {
        if (a.text.includes(value) && !allowedIn.get(value)?.test(a.name)) leaks.push(`${where} appears in ${a.name}`);
      }
      const allowed = allowedIn.get(value);
      if (allowed && !/terraform variable/.test(where))
        assert.ok(
          artifacts.some((a) => allowed.test(a.name) && a.text.includes(value)),
          `${where} is where it should be (${allowed})`,
        );
    }
    assert.deepEqual(leaks, [], `secrets leaked:\n${leaks.join('\n')}`);
  });
});
