// Postgres -> Kafka -> MariaDB: snapshot and streaming in upsert mode (hard deletes), key changes and
// exact composite text keys, tables and columns created at the source later appear in MariaDB (the
// type round-trip is a conformance scenario: test/conformance/).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConverges,
  q,
  setupPipeline,
  Setup,
  spawnWorker,
  status,
  teardown,
  waitFor,
  Worker,
  waitActive,
} from '../dataplane/harness';
import { freshMysqlDatabase, mysqlQuery } from '../mysql-helpers';

const ddl = `
  CREATE TABLE orders (id serial PRIMARY KEY, v int NOT NULL, note text);
  CREATE TABLE pairs (a text, b int, v text, PRIMARY KEY (a, b));
  INSERT INTO orders (v, note) SELECT g, 'pre' || g FROM generate_series(1, 50) g;
`;

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl, dstUrl: await freshMysqlDatabase('dst'), destinationKind: 'mysql' });
  workers.push(spawnWorker(s.api));
});
after(async () => {
  await teardown(s, workers);
});

test('snapshot, then inserts, updates and hard deletes stream into MariaDB (upsert); status Active', async () => {
  await assertConverges(s, 'orders', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await waitActive(s);
  await q(
    s.srcUrl,
    "INSERT INTO orders (v, note) SELECT g, 'new' FROM generate_series(1, " +
      "200) g; UPDATE orders SET v = v * 10, note = 'upd' WHERE id % 3 = 0; " +
      'DELETE FROM orders WHERE id % 7 = 0',
  );
  // A key change (update of the primary key) deletes the old row.
  await q(s.srcUrl, `UPDATE orders SET id = 100000 WHERE id = 1`);
  await assertConverges(s, 'orders', ['id', 'v', 'note']);
  assert.equal(Number((await mysqlQuery(s.dstUrl, 'SELECT COUNT(*) AS n FROM orders WHERE id = 1'))[0].n), 0);
  // Composite text keys compare exactly (binary, no-pad collation): 'a', 'A' and 'a ' are three rows.
  await q(
    s.srcUrl,
    "INSERT INTO pairs VALUES ('a', 1, 'x'), ('A', 1, 'y'), ('a ', 1, " +
      "'z'), ('a', 2, 'w'); UPDATE pairs SET v = 'x2' WHERE a = 'a' AND b = " +
      "1; DELETE FROM pairs WHERE a = 'a' AND b = 2",
  );
  await assertConverges(s, 'pairs', ['a', 'b', 'v'], { key: 'a, b' });
  const cols = await mysqlQuery(
    s.dstUrl,
    'SELECT COLUMN_NAME AS c, COLUMN_KEY AS k FROM ' +
      'information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND ' +
      "TABLE_NAME = 'orders' ORDER BY ORDINAL_POSITION",
  );
  assert.deepEqual(
    cols.map((c) => [c.c, c.k]),
    [
      ['id', 'PRI'],
      ['v', ''],
      ['note', ''],
    ],
  );
});

test('a table created and a column added at the source later appear in MariaDB', async () => {
  await q(s.srcUrl, `CREATE TABLE late (id int PRIMARY KEY, v text)`);
  // New tables join the publication when the runner starts: restart it, then write.
  const r = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/restart`);
  assert.equal(r.status, 202, r.text);
  await waitFor(
    'late in the publication',
    async () => (await q(s.srcUrl, `SELECT 1 FROM pg_publication_tables WHERE tablename = 'late'`)).length > 0,
    60000,
    300,
  );
  await q(
    s.srcUrl,
    `INSERT INTO late VALUES (1, 'one'), (2, 'two'), (3, 'three'); UPDATE late SET v = 'TWO' WHERE id = 2`,
  );
  await assertConverges(s, 'late', ['id', 'v']);
  await q(
    s.srcUrl,
    'ALTER TABLE orders ADD COLUMN price numeric(10,2); INSERT INTO orders ' +
      "(v, note, price) VALUES (1, 'priced', 12.50); UPDATE orders SET price " +
      '= 1.25 WHERE id = 2',
  );
  await assertConverges(s, 'orders', ['id', 'v', 'note', 'price']);
  const t = await mysqlQuery(
    s.dstUrl,
    'SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE ' +
      "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND COLUMN_NAME = " +
      "'price'",
  );
  assert.equal(t[0]?.t, 'decimal(10,2)');
});
