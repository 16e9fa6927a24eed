// What GET /v1/pipelines/:id/verify counts on MySQL / MariaDB (the mysql modules' row counters), on a real
// MariaDB: a MySQL source's captured tables (database_include, table_include / table_exclude),
// row counts, soft-deleted rows, primary keys and the latest-row count of append mode.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { destinationModule, sourceModule } from '../../connectors';
import { freshMysqlDatabase, mysqlQuery } from '../mysql-helpers';

let a: string;
let b: string;
let conn: Record<string, unknown>;
before(async () => {
  const ua = await freshMysqlDatabase('cnt_a');
  const ub = await freshMysqlDatabase('cnt_b');
  a = new URL(ua).pathname.slice(1);
  b = new URL(ub).pathname.slice(1);
  const u = new URL(ua);
  conn = {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    tls_mode: 'disable',
  };
  // _sluice_signal: the table a MySQL source keeps its watermarks and heartbeats in (never captured).
  await mysqlQuery(
    ua,
    `CREATE TABLE orders (id INT PRIMARY KEY, v INT); CREATE TABLE audit_log (id INT PRIMARY KEY); CREATE VIEW v_orders AS SELECT * FROM orders;
    CREATE TABLE _sluice_signal (id varchar(100) PRIMARY KEY);
    INSERT INTO orders VALUES (1, 1), (2, 2), (3, 3)`,
  );
  await mysqlQuery(
    ub,
    `CREATE TABLE pairs (a VARCHAR(10), b INT, _sluice_deleted BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (b, a));
    INSERT INTO pairs VALUES ('x', 1, FALSE), ('y', 1, TRUE), ('x', 2, FALSE);
    CREATE TABLE items_log (id INT, v INT, _sluice_op VARCHAR(1) NOT NULL, _sluice_offset BIGINT NOT NULL);
    INSERT INTO items_log VALUES (1, 1, 'r', 0), (2, 2, 'r', 1), (1, 5, 'u', 2), (2, 2, 'd', 3), (3, 3, 'c', 4), (3, 3, 'd', 5), (3, 4, 'c', 6)`,
  );
});

test(
  'a MySQL source captures the base tables of database_include, filtered ' +
    'by table_include / table_exclude, never its signal table',
  async () => {
    const captured = async (cfg: Record<string, unknown>) => {
      const db = await sourceModule('mysql').openCounter({ ...conn, ...cfg });
      try {
        return await db.capturedTables();
      } finally {
        await db.close();
      }
    };
    assert.deepEqual(await captured({ database_include: [a, b] }), [
      `${a}.audit_log`,
      `${a}.orders`,
      `${b}.items_log`,
      `${b}.pairs`,
    ]);
    assert.deepEqual(
      await captured({ database_include: [a, b], table_include: [`${a}\\..*`], table_exclude: ['.*\\.audit_.*'] }),
      [`${a}.orders`],
    );
    assert.deepEqual(await captured({ database_include: [] }), []);
  },
);

test('row counts, soft deletes, primary keys and the append-mode latest-row count', async () => {
  const src = await sourceModule('mysql').openCounter({ ...conn, database_include: [a, b] });
  const dst = await destinationModule('mysql').openCounter!({ ...conn, database: b });
  try {
    assert.equal(await src.count(a, 'orders'), 3);
    assert.equal(await dst.count('pairs', false), 3);
    assert.equal(await dst.count('pairs', true), 2);
    assert.deepEqual(await src.primaryKey(b, 'pairs'), ['b', 'a']);
    assert.deepEqual(await src.primaryKey(b, 'items_log'), []);
    // Keys 1 (updated) and 3 (deleted, then inserted again) are live; 2 was deleted.
    assert.equal(await dst.countLatest('items_log', ['id']), 2);
  } finally {
    await src.close();
    await dst.close();
  }
  await assert.rejects(sourceModule('mysql').openCounter({ ...conn, port: 1 }), /ECONNREFUSED/);
  await assert.rejects(destinationModule('mysql').openCounter!({ ...conn, database: b, port: 1 }), /ECONNREFUSED/);
});
