// Append mode (metadata columns, dedupe at query time), soft deletes, columns added at the source,
// and the declarative transforms in the sink path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConverges,
  q,
  rowsOf,
  setupPipeline,
  Setup,
  spawnWorker,
  teardown,
  waitFor,
  Worker,
  waitActive,
} from './harness';

const ddl = `CREATE TABLE items (id serial PRIMARY KEY, v int NOT NULL, note text, secret text);
             INSERT INTO items (v, note, secret) SELECT g, 'n' || g, 's' || g FROM generate_series(1, 20) g;`;
let append: Setup;
let soft: Setup;
const workers: Worker[] = [];
before(async () => {
  append = await setupPipeline({ ddl, pipeline: { ingestion_mode: 'append' } });
  soft = await setupPipeline({
    ddl,
    destination: { hard_delete: false },
    transforms: [
      { kind: 'drop_fields', config: { fields: ['secret'] } },
      { kind: 'rename_fields', config: { mappings: { note: 'label' } } },
      { kind: 'filter_rows', config: { column: 'v', operator: 'lt', value: '1000' } },
    ],
  });
  workers.push(spawnWorker(append.api), spawnWorker(soft.api));
});
after(async () => {
  await teardown(append, workers);
  await teardown(soft, []);
});

async function churn(s: Setup) {
  await waitActive(s); // slot exists: changes are streamed
  await q(
    s.srcUrl,
    'UPDATE items SET v = v + 100 WHERE id % 2 = 0; DELETE FROM items ' +
      'WHERE id % 5 = 0; INSERT INTO items (v, note, secret) VALUES (7, ' +
      "'late', 'x'), (5000, 'filtered', 'x')",
  );
  await q(
    s.srcUrl,
    'ALTER TABLE items ADD COLUMN extra numeric(10,2); INSERT INTO items ' +
      "(v, note, secret, extra) VALUES (8, 'with extra', 'y', 12.50); UPDATE " +
      'items SET extra = 1.25 WHERE id = 1',
  );
}

test(
  'append mode: every change with _sluice_* metadata; latest row per key ' + 'equals the source; new column added',
  async () => {
    await churn(append);
    const latest = `(SELECT DISTINCT ON (id) * FROM items ORDER BY id, _sluice_offset DESC) x WHERE _sluice_op <> 'd'`;
    await waitFor(
      'append converges',
      async () =>
        JSON.stringify(await rowsOf(append.dstUrl, latest, ['id', 'v', 'note', 'secret', 'extra'])) ===
        JSON.stringify(await rowsOf(append.srcUrl, 'items', ['id', 'v', 'note', 'secret', 'extra'])),
      60000,
      500,
    );
    const ops = await q(append.dstUrl, `SELECT _sluice_op AS op, count(*)::int AS n FROM items GROUP BY 1 ORDER BY 1`);
    const byOp = Object.fromEntries(ops.map((r) => [r.op, r.n]));
    assert.equal(byOp.d, 4);
    assert.ok(byOp.u >= 11 && byOp.r + (byOp.c ?? 0) >= 23, JSON.stringify(byOp));
    const cols = (
      await q(append.dstUrl, `SELECT column_name FROM information_schema.columns WHERE table_name = 'items'`)
    ).map((r) => r.column_name);
    for (const c of ['_sluice_op', '_sluice_source_ts', '_sluice_offset', '_sluice_ingested_at', 'extra'])
      assert.ok(cols.includes(c), c);
  },
);

test(
  'soft delete + drop/rename/filter transforms: deleted rows flagged, ' + 'others equal the (transformed) source',
  async () => {
    await churn(soft);
    const want = async () =>
      await q(
        soft.srcUrl,
        `SELECT id::text, v::text, note AS label, extra::text FROM items WHERE v < 1000 ORDER BY id`,
      );
    await waitFor(
      'soft converges',
      async () =>
        JSON.stringify(
          await q(
            soft.dstUrl,
            `SELECT id::text, v::text, label, extra::text FROM items WHERE NOT _sluice_deleted ORDER BY id`,
          ),
        ) === JSON.stringify(await want()),
      60000,
      500,
    );
    const deleted = await q(soft.dstUrl, `SELECT id FROM items WHERE _sluice_deleted ORDER BY id`);
    assert.deepEqual(
      deleted.map((r) => r.id),
      [5, 10, 15, 20],
    );
    const cols = (
      await q(soft.dstUrl, `SELECT column_name FROM information_schema.columns WHERE table_name = 'items'`)
    ).map((r) => r.column_name);
    assert.ok(!cols.includes('secret') && !cols.includes('note') && cols.includes('label'));
    assert.equal((await q(soft.dstUrl, `SELECT count(*)::int AS n FROM items WHERE label = 'filtered'`))[0].n, 0);
    await assertConverges(soft, 'items', ['id'], { srcWhere: 'WHERE v < 1000', dstWhere: 'WHERE NOT _sluice_deleted' });
  },
);
