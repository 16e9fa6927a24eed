// MySQL/MariaDB source -> Kafka -> Postgres with real processes: initial snapshot, streaming,
// exact types, added columns, and a worker restart that resumes from the persisted position.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, spawnWorker, status, stopWorker, teardown, topicRecords, waitFor, Worker } from '../dataplane/harness';

const ddl = `
  CREATE TABLE orders (id int AUTO_INCREMENT PRIMARY KEY, v int NOT NULL, note varchar(100));
  CREATE TABLE typed (id bigint AUTO_INCREMENT PRIMARY KEY, ti tinyint, si smallint, mi mediumint, i int, iu int unsigned, bi bigint, bu bigint unsigned,
    d decimal(30,10), vc varchar(50), tx text, dt datetime, dt6 datetime(6), ts timestamp(3) NULL DEFAULT NULL, dd date, j json, bl blob, vb varbinary(20),
    e enum('red','green','blue'), f double);
  INSERT INTO orders (v, note) VALUES ${Array.from({ length: 50 }, (_, i) => `(${i + 1}, 'pre${i + 1}')`).join(', ')};
`;

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl, sourceKind: 'mysql' });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('initial snapshot, then inserts, updates and deletes stream; status reports the GTID position', async () => {
  await assertConverges(s, 'orders', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await waitFor('Active', async () => (await status(s)).state === 'Active', 30000);
  await q(s.srcUrl, `INSERT INTO orders (v, note) VALUES (1001, 'new'), (1002, 'new2')`);
  await q(s.srcUrl, `UPDATE orders SET v = v * 10, note = 'upd' WHERE id <= 10`);
  await q(s.srcUrl, `DELETE FROM orders WHERE id BETWEEN 20 AND 25`);
  await assertConverges(s, 'orders', ['id', 'v', 'note']);
  const st = await status(s);
  assert.match(st.source.position, /^\d+-\d+-\d+/, `MariaDB GTID position, got ${st.source.position}`);
  await waitFor('replication lag reported', async () => typeof (await status(s)).source.replication_lag_bytes === 'number', 10000);
  const state = await q(s.api.databaseUrl, `SELECT acked_lsn FROM source_state WHERE source_id = $1`, [s.sourceId]);
  assert.match(JSON.parse(state[0].acked_lsn).gtid, /^\d+-\d+-\d+/, 'the GTID position is persisted in the control DB');
  const recs = await topicRecords(`${s.prefix}.${new URL(s.srcUrl).pathname.slice(1)}.orders`);
  const ops = new Set(recs.map((r) => r.env.op));
  assert.deepEqual([...ops].sort(), ['c', 'd', 'r', 'u']);
  const upd = recs.find((r) => r.env.op === 'u')!;
  assert.ok(upd.env.before && upd.env.after, 'updates carry the full before image');
  assert.equal(upd.env.source.schema, new URL(s.srcUrl).pathname.slice(1));
  assert.match(upd.env.source.gtid, /^\d+-\d+-\d+$/);
});

/** Each column in a form both databases print the same way. */
async function typedRows(url: string): Promise<Record<string, unknown>[]> {
  const my = url.startsWith('mysql:');
  const cols = my
    ? `id, ti, si, mi, i, iu, CAST(bi AS CHAR) AS bi, CAST(bu AS CHAR) AS bu, CAST(d AS CHAR) AS d, vc, tx, CAST(dt AS CHAR) AS dt, CAST(dt6 AS CHAR) AS dt6,
       UNIX_TIMESTAMP(ts) AS ts, CAST(dd AS CHAR) AS dd, j, LOWER(HEX(bl)) AS bl, LOWER(HEX(vb)) AS vb, CAST(e AS CHAR) AS e, f`
    : `id, ti, si, mi, i, iu, bi::text AS bi, bu::text AS bu, d::text AS d, vc, tx, dt::text AS dt, dt6::text AS dt6,
       extract(epoch FROM ts) AS ts, dd::text AS dd, j::text AS j, encode(bl, 'hex') AS bl, encode(vb, 'hex') AS vb, e, f`;
  const rows = await q(url, `SELECT ${cols} FROM typed ORDER BY id`);
  return rows.map((r: any) => ({
    ...r, id: Number(r.id), ti: r.ti == null ? null : Number(r.ti), si: r.si == null ? null : Number(r.si), mi: r.mi == null ? null : Number(r.mi),
    i: r.i == null ? null : Number(r.i), iu: r.iu == null ? null : Number(r.iu), f: r.f == null ? null : Number(r.f),
    ts: r.ts == null ? null : Number(r.ts), j: typeof r.j === 'string' ? JSON.parse(r.j) : r.j,
  }));
}

test('types round-trip exactly: integers, decimal, varchar/text, datetime/timestamp, date, json, blob, enum, NULLs', async () => {
  await q(s.srcUrl, `INSERT INTO typed (ti, si, mi, i, iu, bi, bu, d, vc, tx, dt, dt6, ts, dd, j, bl, vb, e, f) VALUES
    (-128, -32768, -8388608, -2147483648, 4294967295, 9007199254740993, 18446744073709551615, 12345678901234567890.0123456789,
     'héllo ''quoted'' "x"', 'tab\\tend \\\\ ünïcode ✓', '2024-02-29 23:59:59', '1999-12-31 00:00:00.123456', '2024-01-01 12:00:00.5', '0001-01-01',
     '{"a": [1, 2.50, "x"], "b": null}', X'00ff10', X'DEADBEEF', 'green', 1.0000000000000002),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, 0, 0, 0, 0, -1, 0, -0.5, '', '', '1970-01-01 00:00:01', '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01', '2038-01-19', '[]', X'', X'', 'red', -1.5e-300)`);
  let src: unknown[] = [];
  let dst: unknown[] = [];
  await waitFor('typed rows equal', async () => {
    src = await typedRows(s.srcUrl);
    dst = await typedRows(s.dstUrl);
    return JSON.stringify(src) === JSON.stringify(dst);
  }, 30000, 500).catch(() => undefined);
  assert.deepEqual(dst, src);
  assert.equal(src.length, 3);
  // The destination columns carry the Postgres types of the MySQL columns.
  const types = await q(s.dstUrl, `SELECT column_name, format_type(atttypid, atttypmod) AS t FROM information_schema.columns c JOIN pg_attribute a ON a.attrelid = 'typed'::regclass AND a.attname = c.column_name WHERE c.table_name = 'typed' ORDER BY ordinal_position`);
  const byName = Object.fromEntries(types.map((t: any) => [t.column_name, t.t]));
  assert.equal(byName.d, 'numeric(30,10)');
  assert.equal(byName.bu, 'numeric(20,0)');
  assert.equal(byName.vc, 'character varying(50)');
  assert.equal(byName.dt, 'timestamp(0) without time zone');
  assert.equal(byName.dt6, 'timestamp without time zone');
  assert.equal(byName.ts, 'timestamp(3) with time zone');
  assert.equal(byName.j, 'jsonb');
  assert.equal(byName.bl, 'bytea');
  // Updates of every type, and a delete.
  await q(s.srcUrl, `UPDATE typed SET tx = 'changed', j = '{"v": 2}', d = 0.0000000001, e = 'blue', bl = X'01' WHERE ti = 0; DELETE FROM typed WHERE ti IS NULL`);
  await waitFor('typed rows equal after updates', async () => JSON.stringify(await typedRows(s.srcUrl)) === JSON.stringify(await typedRows(s.dstUrl)), 30000, 500).catch(() => undefined);
  assert.deepEqual(await typedRows(s.dstUrl), await typedRows(s.srcUrl));
  const recs = await topicRecords(`${s.prefix}.${new URL(s.srcUrl).pathname.slice(1)}.typed`);
  const e = recs.find((r) => r.env.op === 'c')!;
  assert.equal(e.env.after.d, '12345678901234567890.0123456789', 'decimal exact as a string');
  assert.equal(e.env.after.bi, '9007199254740993', 'bigint beyond 2^53 as a string');
  assert.equal(e.env.after.ts, '2024-01-01 12:00:00.500+00', 'timestamp in UTC');
  assert.equal(e.env.after.bl, '\\x00ff10');
});

test('an added column is carried through', async () => {
  await q(s.srcUrl, `ALTER TABLE orders ADD COLUMN extra varchar(20) NULL`);
  await q(s.srcUrl, `INSERT INTO orders (v, note, extra) VALUES (7, 'with extra', 'x1')`);
  await q(s.srcUrl, `UPDATE orders SET extra = 'x2' WHERE id = 1`);
  await assertConverges(s, 'orders', ['id', 'v', 'note', 'extra']);
});

test('a restarted worker resumes from the persisted position: nothing lost, nothing produced twice', async () => {
  await stopWorker(workers[0]);
  await q(s.srcUrl, `INSERT INTO orders (v, note) VALUES (501, 'while down'), (502, 'while down')`);
  await q(s.srcUrl, `UPDATE orders SET note = 'while down too' WHERE id = 2`);
  workers.push(spawnWorker(s.api));
  await assertConverges(s, 'orders', ['id', 'v', 'note', 'extra']);
  const recs = await topicRecords(`${s.prefix}.${new URL(s.srcUrl).pathname.slice(1)}.orders`);
  const creates = new Map<string, number>();
  for (const r of recs) if (r.env.op === 'c') creates.set(r.key!, (creates.get(r.key!) ?? 0) + 1);
  const twice = [...creates].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no insert was produced twice');
  assert.ok(recs.some((r) => r.env.after?.note === 'while down'), 'the rows written while the worker was down were streamed');
});

test('TRUNCATE (a statement in the binlog) empties the destination table', async () => {
  assert.ok((await q(s.dstUrl, `SELECT count(*)::int AS n FROM typed`))[0].n > 0);
  await q(s.srcUrl, `TRUNCATE TABLE typed`);
  await q(s.srcUrl, `INSERT INTO typed (ti, vc) VALUES (5, 'after truncate')`);
  await waitFor('destination typed holds only the new row', async () => {
    const rows = await q(s.dstUrl, `SELECT vc FROM typed`);
    return rows.length === 1 && rows[0].vc === 'after truncate';
  }, 30000, 300);
});
