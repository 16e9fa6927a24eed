// MariaDB -> Kafka -> MariaDB: the MySQL source's envelope (Postgres type vocabulary) lands in a
// MySQL destination with every value intact, and verify counts rows on both MySQL sides.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverges, q, setupPipeline, Setup, spawnWorker, status, teardown, waitFor, Worker } from '../dataplane/harness';
import { freshMysqlDatabase, mysqlQuery } from '../mysql-helpers';

const ddl = `
  CREATE TABLE typed (id BIGINT AUTO_INCREMENT PRIMARY KEY, ti TINYINT, ui INT UNSIGNED, bu BIGINT UNSIGNED, dc DECIMAL(30,10), vc VARCHAR(20), tx TEXT,
    dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, d DATE, j JSON, bl BLOB, e ENUM('sad','ok','happy'), f DOUBLE, b TINYINT(1));
  CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(100));
  INSERT INTO orders (v, note) VALUES (1, 'a'), (2, 'b'), (3, 'c');`;

// TIMESTAMP is shown in the session's zone at the source and stored in UTC at the destination.
const typed = (ts: string) => `SELECT CAST(id AS CHAR) AS id, CAST(ti AS CHAR) AS ti, CAST(ui AS CHAR) AS ui, CAST(bu AS CHAR) AS bu, CAST(dc AS CHAR) AS dc, vc, tx,
  CAST(dt AS CHAR) AS dt, DATE_FORMAT(${ts}, '%Y-%m-%d %H:%i:%s.%f') AS ts, CAST(d AS CHAR) AS d, CAST(j AS CHAR) AS j, HEX(bl) AS bl, CAST(e AS CHAR) AS e,
  CAST(f AS CHAR) AS f, CAST(b AS CHAR) AS b FROM typed ORDER BY id`;

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ sourceKind: 'mysql', ddl, dstUrl: await freshMysqlDatabase('dst_my'), destinationKind: 'mysql' });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('MariaDB -> MariaDB: snapshot, inserts, updates, deletes', async () => {
  await assertConverges(s, 'orders', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await waitFor('Active', async () => (await status(s)).state === 'Active', 30000);
  await q(s.srcUrl, `INSERT INTO orders (v, note) VALUES (4, 'd'), (5, 'e'); UPDATE orders SET v = v * 10, note = 'upd' WHERE id % 2 = 0; DELETE FROM orders WHERE id = 3`);
  await assertConverges(s, 'orders', ['id', 'v', 'note']);
});

test('MariaDB -> MariaDB: values round-trip exactly (unsigned, decimal, text, datetime, timestamp, date, json, blob, enum, NULLs)', async () => {
  await q(s.srcUrl, `INSERT INTO typed (ti, ui, bu, dc, vc, tx, dt, ts, d, j, bl, e, f, b) VALUES
    (-128, 4294967295, 18446744073709551615, 12345678901234567890.0123456789, 'ünï ''q'' "x"', 'héllo 😀 \\\\ tab\tend', '2024-02-29 23:59:59.123456', '2024-01-01 12:00:00.5',
     '2024-02-29', '{"a": [1, 2.50, "x"], "b": null}', X'00FF10', 'happy', 0.1, 1),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, 0, 0, -0.5, '', '', '1000-01-01 00:00:00', '1970-01-02 00:00:00', '1000-01-01', '[]', X'', 'sad', -2.5, 0)`);
  let src: unknown[] = [];
  let dst: unknown[] = [];
  await waitFor('typed rows equal', async () => {
    src = (await mysqlQuery(s.srcUrl, typed(`CONVERT_TZ(ts, @@session.time_zone, '+00:00')`))).map((r) => ({ ...r }));
    dst = (await mysqlQuery(s.dstUrl, typed('ts'))).map((r) => ({ ...r }));
    return src.length === 3 && JSON.stringify(src) === JSON.stringify(dst);
  }, 30000, 300).catch(() => undefined);
  assert.equal(src.length, 3);
  assert.deepEqual(dst, src);
  const v = await waitFor('verify passes', async () => { const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`); return r.body.pass ? r.body : null; }, 20000, 1000)
    .catch(async () => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`)).body);
  const db = new URL(s.srcUrl).pathname.slice(1);
  for (const [t, n] of [['orders', 4], ['typed', 3]] as const) {
    assert.ok(v.checks.some((c: any) => c.check === 'row_count' && c.table === `${db}.${t}` && c.pass && c.detail === `source ${n}, destination ${n}`), JSON.stringify(v.checks));
  }
});
