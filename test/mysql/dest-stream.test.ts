// Postgres -> Kafka -> MariaDB: snapshot and streaming in upsert mode (hard deletes), every type of
// the envelope round-trips exactly, tables and columns created at the source later appear in MariaDB.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, spawnWorker, status, teardown, waitFor, Worker } from '../dataplane/harness';
import { freshMysqlDatabase, mysqlQuery } from '../mysql-helpers';

const ddl = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE typed (id bigserial PRIMARY KEY, i int, si smallint, bi bigint, n numeric(30,10), big numeric, vc varchar(20), ch char(4), t text, b boolean,
    ts timestamp, tstz timestamptz, d date, u uuid, j json, jb jsonb, "by" bytea, e mood, arr int[], f float8);
  CREATE TABLE orders (id serial PRIMARY KEY, v int NOT NULL, note text);
  CREATE TABLE pairs (a text, b int, v text, PRIMARY KEY (a, b));
  INSERT INTO orders (v, note) SELECT g, 'pre' || g FROM generate_series(1, 50) g;
`;

// Each value as the text MariaDB shows for the mapped type (booleans 1/0, DATETIME(6) in UTC, bytea as HEX;
// char(n) as Postgres sends it, blank-padded, which `::text` would strip).
const PG_TYPED = `SELECT id::text, i::text, si::text, bi::text, n::text, big::text, vc, ch, t, b::int::text AS b,
  to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US') AS ts, to_char(tstz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS tstz, to_char(d, 'YYYY-MM-DD') AS d,
  u::text, j::text, jb::text, upper(encode("by", 'hex')) AS "by", e::text, arr::text, f::text FROM typed ORDER BY id`;
const MY_TYPED = `SELECT CAST(id AS CHAR) AS id, CAST(i AS CHAR) AS i, CAST(si AS CHAR) AS si, CAST(bi AS CHAR) AS bi, CAST(n AS CHAR) AS n, big, vc, ch, t,
  CAST(b AS CHAR) AS b, CAST(ts AS CHAR) AS ts, CAST(tstz AS CHAR) AS tstz, CAST(d AS CHAR) AS d, u, CAST(j AS CHAR) AS j, CAST(jb AS CHAR) AS jb, HEX(\`by\`) AS \`by\`, e, arr, CAST(f AS CHAR) AS f
  FROM typed ORDER BY id`;

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl, dstUrl: await freshMysqlDatabase('dst'), destinationKind: 'mysql' });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('snapshot, then inserts, updates and hard deletes stream into MariaDB (upsert); status Active', async () => {
  await assertConverges(s, 'orders', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await waitFor('Active', async () => (await status(s)).state === 'Active', 20000);
  await q(s.srcUrl, `INSERT INTO orders (v, note) SELECT g, 'new' FROM generate_series(1, 200) g; UPDATE orders SET v = v * 10, note = 'upd' WHERE id % 3 = 0; DELETE FROM orders WHERE id % 7 = 0`);
  // A key change (update of the primary key) deletes the old row.
  await q(s.srcUrl, `UPDATE orders SET id = 100000 WHERE id = 1`);
  await assertConverges(s, 'orders', ['id', 'v', 'note']);
  assert.equal(Number((await mysqlQuery(s.dstUrl, 'SELECT COUNT(*) AS n FROM orders WHERE id = 1'))[0].n), 0);
  // Composite text keys compare exactly (binary, no-pad collation): 'a', 'A' and 'a ' are three rows.
  await q(s.srcUrl, `INSERT INTO pairs VALUES ('a', 1, 'x'), ('A', 1, 'y'), ('a ', 1, 'z'), ('a', 2, 'w'); UPDATE pairs SET v = 'x2' WHERE a = 'a' AND b = 1; DELETE FROM pairs WHERE a = 'a' AND b = 2`);
  await assertConverges(s, 'pairs', ['a', 'b', 'v'], { key: 'a, b' });
  const cols = await mysqlQuery(s.dstUrl, `SELECT COLUMN_NAME AS c, COLUMN_KEY AS k FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' ORDER BY ORDINAL_POSITION`);
  assert.deepEqual(cols.map((c) => [c.c, c.k]), [['id', 'PRI'], ['v', ''], ['note', '']]);
});

test('types round-trip exactly from Postgres to MariaDB (incl. NULLs, bigint beyond 2^53, enum, bytea)', async () => {
  await q(s.srcUrl, `INSERT INTO typed (i, si, bi, n, big, vc, ch, t, b, ts, tstz, d, u, j, jb, "by", e, arr, f) VALUES
    (-2147483648, -32768, 9007199254740993, 12345678901234567890.0123456789, 1e40, 'ünïcødé ''q'' "x"', 'ab', 'héllo ''quoted'' "x" \\ tab	end 😀', true,
     '2024-02-29 23:59:59.123456', '2024-01-01 12:00:00.5+05:30', '2024-02-29', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
     '{"a": [1, 2.50, "x"], "b": null}', '{"k": {"nested": true}, "n": 1.0}', '\\x00ff10', 'happy', '{1,NULL,3}', 0.1),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, 0, -9223372036854775808, -0.5, 0.000000000000000000000000000000000001, '', '    ', '', false, '1999-12-31 00:00:00', '1970-01-01 00:00:00+00', '1000-01-01',
     '00000000-0000-0000-0000-000000000000', '[]', '[]', '\\x', 'sad', '{}', -2.5)`);
  const converge = async () => {
    let src: unknown[] = [];
    let dst: unknown[] = [];
    await waitFor('typed rows equal', async () => {
      src = await q(s.srcUrl, PG_TYPED);
      dst = (await mysqlQuery(s.dstUrl, MY_TYPED)).map((r) => ({ ...r }));
      return JSON.stringify(src) === JSON.stringify(dst);
    }, 30000, 300).catch(() => undefined);
    assert.deepEqual(dst, src);
  };
  await converge();
  const types = await mysqlQuery(s.dstUrl, `SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'typed' ORDER BY ORDINAL_POSITION`);
  assert.deepEqual(Object.fromEntries(types.map((r) => [r.c, r.t])), {
    id: 'bigint(20)', i: 'int(11)', si: 'smallint(6)', bi: 'bigint(20)', n: 'decimal(30,10)', big: 'longtext', vc: 'varchar(20)', ch: 'varchar(4)', t: 'longtext',
    b: 'tinyint(1)', ts: 'datetime(6)', tstz: 'datetime(6)', d: 'date', u: 'char(36)', j: 'longtext', jb: 'longtext', by: 'longblob', e: 'longtext', arr: 'longtext', f: 'double',
  });
  await q(s.srcUrl, `UPDATE typed SET t = 'changed', jb = '{"v": 2}', n = 0.0000000001, tstz = '2030-06-30 23:30:00-02:00' WHERE i = 0; DELETE FROM typed WHERE i IS NULL`);
  await converge();
});

test('a table created and a column added at the source later appear in MariaDB', async () => {
  await q(s.srcUrl, `CREATE TABLE late (id int PRIMARY KEY, v text)`);
  // New tables join the publication when the runner starts: restart it, then write.
  const r = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/restart`);
  assert.equal(r.status, 202, r.text);
  await waitFor('late in the publication', async () => (await q(s.srcUrl, `SELECT 1 FROM pg_publication_tables WHERE tablename = 'late'`)).length > 0, 60000, 300);
  await q(s.srcUrl, `INSERT INTO late VALUES (1, 'one'), (2, 'two'), (3, 'three'); UPDATE late SET v = 'TWO' WHERE id = 2`);
  await assertConverges(s, 'late', ['id', 'v']);
  await q(s.srcUrl, `ALTER TABLE orders ADD COLUMN price numeric(10,2); INSERT INTO orders (v, note, price) VALUES (1, 'priced', 12.50); UPDATE orders SET price = 1.25 WHERE id = 2`);
  await assertConverges(s, 'orders', ['id', 'v', 'note', 'price']);
  const t = await mysqlQuery(s.dstUrl, `SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'price'`);
  assert.equal(t[0]?.t, 'decimal(10,2)');
});
