// Postgres -> Kafka -> MariaDB in append mode (every change with the _sluice_* metadata columns,
// latest row per key equals the source) and in upsert mode with soft deletes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConverges,
  mysqlRowsOf,
  q,
  rowsOf,
  setupPipeline,
  Setup,
  spawnWorker,
  status,
  teardown,
  waitFor,
  Worker,
  waitActive,
} from '../dataplane/harness';
import crypto from 'node:crypto';
import { freshMysqlDatabase, mysqlQuery, mysqlUrlWithDatabase, startMariadb } from '../mysql-helpers';

const ddl = `CREATE TABLE items (id serial PRIMARY KEY, v int NOT NULL, note text);
             INSERT INTO items (v, note) SELECT g, 'n' || g FROM generate_series(1, 20) g;`;
let append: Setup;
let soft: Setup;
const workers: Worker[] = [];
before(async () => {
  append = await setupPipeline({
    ddl,
    dstUrl: await freshMysqlDatabase('dst_app'),
    destinationKind: 'mysql',
    pipeline: { ingestion_mode: 'append' },
  });
  // A database that does not exist yet: the writer creates it.
  const missing = mysqlUrlWithDatabase(
    (await startMariadb()).mysqlUrl,
    `dst_new_${crypto.randomBytes(4).toString('hex')}`,
  );
  soft = await setupPipeline({ ddl, dstUrl: missing, destinationKind: 'mysql', destination: { hard_delete: false } });
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
      "WHERE id % 5 = 0; INSERT INTO items (v, note) VALUES (7, 'late')",
  );
  await q(
    s.srcUrl,
    'ALTER TABLE items ADD COLUMN extra numeric(10,2); INSERT INTO items ' +
      "(v, note, extra) VALUES (8, 'with extra', 12.50); UPDATE items SET " +
      'extra = 1.25 WHERE id = 1',
  );
}

const COLS = ['id', 'v', 'note', 'extra'];

test('append mode: every change with _sluice_* metadata; the latest row per key equals the source', async () => {
  await churn(append);
  const latest =
    '(SELECT * FROM (SELECT i.*, ROW_NUMBER() OVER (PARTITION BY id ORDER ' +
    'BY _sluice_offset DESC) AS rn FROM items i) x WHERE rn = 1 AND ' +
    "_sluice_op <> 'd') y";
  let src: unknown[] = [];
  let dst: unknown[] = [];
  await waitFor(
    'append converges',
    async () => {
      src = await rowsOf(append.srcUrl, 'items', COLS);
      dst = await mysqlRowsOf(append.dstUrl, latest, COLS);
      return JSON.stringify(src) === JSON.stringify(dst);
    },
    60000,
    500,
  ).catch(() => undefined);
  assert.deepEqual(dst, src);
  const ops = await mysqlQuery(
    append.dstUrl,
    `SELECT _sluice_op AS op, COUNT(*) AS n FROM items GROUP BY 1 ORDER BY 1`,
  );
  const byOp = Object.fromEntries(ops.map((r) => [r.op, Number(r.n)]));
  assert.equal(byOp.d, 4);
  assert.ok(byOp.u >= 11 && byOp.r + (byOp.c ?? 0) >= 22, JSON.stringify(byOp));
  const meta = await mysqlQuery(
    append.dstUrl,
    'SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM ' +
      'information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND ' +
      "TABLE_NAME = 'items' ORDER BY ORDINAL_POSITION",
  );
  assert.deepEqual(
    meta.map((r) => [r.c, r.t]),
    [
      ['id', 'int(11)'],
      ['v', 'int(11)'],
      ['note', 'longtext'],
      ['_sluice_op', 'varchar(1)'],
      ['_sluice_source_ts', 'datetime(6)'],
      ['_sluice_offset', 'bigint(20)'],
      ['_sluice_ingested_at', 'datetime(6)'],
      ['extra', 'decimal(10,2)'],
    ],
  );
  // Metadata is filled: source commit time and ingestion time are real, offsets distinct per row.
  const m = (
    await mysqlQuery(
      append.dstUrl,
      `SELECT COUNT(*) AS n, COUNT(DISTINCT _sluice_offset) AS o, SUM(_sluice_source_ts IS NULL) AS nts,
    SUM(_sluice_ingested_at < _sluice_source_ts - INTERVAL 5 SECOND) AS early FROM items`,
    )
  )[0];
  assert.equal(Number(m.o), Number(m.n));
  assert.equal(Number(m.nts), 0);
  assert.equal(Number(m.early), 0);
  await verifyRowCount(append);
});

/** GET .../verify counts rows in MariaDB: the items row_count check passes. */
async function verifyRowCount(s: Setup) {
  const v = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`);
  assert.equal(v.status, 200, v.text);
  const c = v.body.checks.find((x: any) => x.check === 'row_count' && x.table === 'public.items');
  assert.equal(c?.pass, true, JSON.stringify(v.body.checks));
}

test(
  'soft delete, into a database created on first write: deleted rows are ' +
    'kept with _sluice_deleted = 1, the others equal the source',
  async () => {
    await churn(soft);
    await assertConverges(soft, 'items', COLS, { dstWhere: 'WHERE NOT _sluice_deleted' });
    const deleted = await mysqlQuery(soft.dstUrl, `SELECT id FROM items WHERE _sluice_deleted ORDER BY id`);
    assert.deepEqual(
      deleted.map((r) => Number(r.id)),
      [5, 10, 15, 20],
    );
    // A row deleted and re-inserted with the same key is live again.
    await q(soft.srcUrl, `INSERT INTO items (id, v, note) VALUES (5, 55, 'back')`);
    await assertConverges(soft, 'items', COLS, { dstWhere: 'WHERE NOT _sluice_deleted' });
    await verifyRowCount(soft);
    const db = new URL(soft.dstUrl).pathname.slice(1);
    const schema = await mysqlQuery(
      soft.dstUrl,
      `SELECT DEFAULT_CHARACTER_SET_NAME AS cs FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`,
      [db],
    );
    assert.equal(schema[0]?.cs, 'utf8mb4');
  },
);
