import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sampleConfigs, startTestApi, TestApi } from './helpers';

let a: TestApi;
let b: TestApi;
before(async () => {
  [a, b] = await Promise.all([startTestApi(), startTestApi()]);
});
after(async () => {
  await Promise.all([a.close(), b.close()]);
});

async function seed(api: TestApi) {
  const mk = async (coll: string, body: unknown) => {
    const r = await api.call('POST', `/v1/${coll}`, body);
    assert.equal(r.status, 201, r.text);
    return r.body;
  };
  const src = await mk('sources', {
    name: 'orders "db"',
    kind: 'postgresql',
    config: { ...sampleConfigs['source/postgresql'], password: 'pw-a' },
    tags: { env: 'prod' },
  });
  const my = await mk('sources', { name: 'legacy', kind: 'mysql', config: sampleConfigs['source/mysql'] });
  const dst = await mk('destinations', {
    name: 'warehouse',
    kind: 'postgresql',
    config: sampleConfigs['destination/postgresql'],
  });
  const t1 = await mk('transforms', {
    name: 'mask-pii',
    kind: 'mask_fields',
    config: sampleConfigs['transform/mask_fields'],
  });
  const t2 = await mk('transforms', {
    name: 'js ${code}',
    kind: 'map_filter',
    config: { code: 'function transform(e) {\n  return e; // "quoted" \\ back\n}\n' },
  });
  await mk('pipelines', {
    name: 'orders-to-dw',
    source_id: src.id,
    destination_id: dst.id,
    transform_ids: [t2.id, t1.id],
    tables: ['public.orders'],
    ingestion_mode: 'append',
    delivery: { max_retries: 3 },
  });
  await mk('pipelines', { name: 'legacy-to-dw', source_id: my.id, destination_id: dst.id, desired_state: 'paused' });
}

describe('export / import', () => {
  it('round trip: export A -> import into empty B -> export B equals export A', async () => {
    await seed(a);
    const docA = (await a.call('GET', '/v1/export?format=json')).body;
    assert.deepEqual(docA.sources[1].config.password, { $secret: 'source_orders_db_password' });
    const vars = [
      'source_orders_db_password',
      'source_legacy_password',
      'destination_warehouse_password',
      'transform_mask_pii_salt',
    ];
    const secrets = Object.fromEntries(vars.map((v) => [v, `value-of-${v}`]));

    // Missing secret values are named, and nothing is written. The document is well formed, but B
    // holds no stored value to keep for those secrets: a conflict with the instance.
    const missing = await b.call('POST', '/v1/import', docA);
    assert.equal(missing.status, 409);
    assert.ok(missing.body.errors.some((e: { field: string }) => e.field === 'secrets.source_orders_db_password'));
    assert.equal((await b.call('GET', '/v1/sources')).body.total, 0);

    const plan = await b.call('POST', '/v1/import?dry_run=true', { ...docA, secrets });
    assert.equal(plan.status, 200, plan.text);
    assert.equal(plan.body.dry_run, true);
    assert.deepEqual(plan.body.summary, { create: 7, update: 0, delete: 0, unchanged: 0 });
    assert.equal((await b.call('GET', '/v1/sources')).body.total, 0, 'dry run changes nothing');

    const applied = await b.call('POST', '/v1/import', { ...docA, secrets });
    assert.equal(applied.status, 200, applied.text);
    assert.deepEqual(applied.body.summary, { create: 7, update: 0, delete: 0, unchanged: 0 });
    const docB = (await b.call('GET', '/v1/export?format=json')).body;
    assert.deepEqual(docB, docA);
    // The HCL of both is the same text too (ids are references, not literals).
    assert.equal(
      (await b.call('GET', '/v1/export?format=hcl')).text,
      (await a.call('GET', '/v1/export?format=hcl')).text,
    );
    // Secrets were imported (encrypted), not dropped.
    const row = (await b.ds.query(`SELECT secrets FROM connectors WHERE name = 'orders "db"'`))[0];
    assert.match(row.secrets.password, /^v1:/);

    // Idempotent by name: a second import changes nothing, even without secret values.
    const again = await b.call('POST', '/v1/import', docA);
    assert.deepEqual(again.body.summary, { create: 0, update: 0, delete: 0, unchanged: 7 });
    const audit = await b.call('GET', '/v1/audit?page_size=100');
    assert.ok(audit.body.items.every((e: { origin: string }) => e.origin === 'import'));
  });

  it('dry run shows updates and, with prune, deletes', async () => {
    const doc = (await a.call('GET', '/v1/export?format=json')).body;
    doc.destinations[0].config.batch_size = 1000;
    doc.pipelines = doc.pipelines.filter((p: { name: string }) => p.name !== 'legacy-to-dw');
    doc.sources = doc.sources.filter((s: { name: string }) => s.name !== 'legacy');
    const plan = await b.call('POST', '/v1/import?dry_run=true&prune=true', doc);
    assert.equal(plan.status, 200, plan.text);
    const byName = Object.fromEntries(
      plan.body.changes.map((c: { type: string; name: string; action: string }) => [`${c.type}/${c.name}`, c]),
    );
    assert.equal(byName['destination/warehouse'].action, 'update');
    assert.deepEqual(byName['destination/warehouse'].fields, ['config.batch_size']);
    assert.equal(byName['pipeline/legacy-to-dw'].action, 'delete');
    assert.equal(byName['source/legacy'].action, 'delete');
    assert.equal(byName['pipeline/orders-to-dw'].action, 'unchanged');
    assert.equal((await b.call('GET', '/v1/pipelines')).body.total, 2, 'dry run changes nothing');
  });

  it('HCL uses resource names, references and variables', async () => {
    const hcl = (await a.call('GET', '/v1/export?format=hcl')).text;
    assert.match(hcl, /resource "sluice_source_postgresql" "orders_db" \{/);
    assert.match(hcl, /resource "sluice_source_mysql" "legacy" \{/);
    assert.match(hcl, /resource "sluice_transform_map_filter" "js_code" \{/);
    assert.match(hcl, /source_id\s+= sluice_source_postgresql\.orders_db\.id/);
    assert.match(
      hcl,
      /transform_ids\s+= \[sluice_transform_map_filter\.js_code\.id, sluice_transform_mask_fields\.mask_pii\.id\]/,
    );
    assert.match(hcl, /password\s+= var\.source_orders_db_password/);
    assert.match(hcl, /variable "source_orders_db_password" \{\n  type      = string\n  sensitive = true\n\}/);
    assert.match(hcl, /name\s+= "js \$\$\{code\}"/);
    assert.match(hcl, /name\s+= "orders \\"db\\""/);
    const withImports = (await a.call('GET', '/v1/export?format=hcl&import_blocks=true')).text;
    assert.match(withImports, /import \{\n  to = sluice_pipeline\.orders_to_dw\n  id = "[0-9a-f-]{36}"\n\}/);
    assert.equal((await a.call('GET', '/v1/export?format=yaml')).status, 400);
  });

  it('rejects a malformed document without changing anything', async () => {
    const r = await b.call('POST', '/v1/import', {
      format: 'sluice/v1',
      sources: [{ name: 'x', kind: 'postgresql', config: { port: 'no' } }],
      extra: 1,
    });
    assert.equal(r.status, 400);
    const fields = r.body.errors.map((e: { field: string }) => e.field);
    assert.ok(fields.includes('extra'), JSON.stringify(fields));
    const r2 = await b.call('POST', '/v1/import', {
      format: 'sluice/v1',
      sources: [{ name: 'x', kind: 'postgresql', config: { port: 'no' } }],
    });
    const fields2 = r2.body.errors.map((e: { field: string }) => e.field);
    assert.ok(fields2.includes('sources[0].config.port'), JSON.stringify(fields2));
    assert.ok(fields2.includes('sources[0].config.host'), JSON.stringify(fields2));
    assert.equal((await b.call('GET', '/v1/sources?name=x')).body.total, 0);
  });
});
