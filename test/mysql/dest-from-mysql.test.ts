// MariaDB -> Kafka -> MariaDB: the MySQL source's envelope (Postgres type vocabulary) lands in a
// MySQL destination with every value intact, and verify counts rows on both MySQL sides.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConverges,
  q,
  setupPipeline,
  Setup,
  spawnWorker,
  teardown,
  Worker,
  waitActive,
} from '../dataplane/harness';
import { freshMysqlDatabase, mysqlQuery } from '../mysql-helpers';

const ddl = `
  CREATE TABLE typed (id BIGINT AUTO_INCREMENT PRIMARY KEY, ti TINYINT, ui INT UNSIGNED, bu BIGINT UNSIGNED, dc DECIMAL(30,10), vc VARCHAR(20), tx TEXT,
    dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, d DATE, j JSON, bl BLOB, e ENUM('sad','ok','happy'), f DOUBLE, b TINYINT(1));
  CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(100));
  INSERT INTO orders (v, note) VALUES (1, 'a'), (2, 'b'), (3, 'c');`;

// TIMESTAMP is shown in the session's zone at the source and stored in UTC at the destination.
const typed = (
  ts: string,
) => `SELECT CAST(id AS CHAR) AS id, CAST(ti AS CHAR) AS ti, CAST(ui AS CHAR) AS ui, CAST(bu AS CHAR) AS bu, CAST(dc AS CHAR) AS dc, vc, tx,
  CAST(dt AS CHAR) AS dt, DATE_FORMAT(${ts}, '%Y-%m-%d %H:%i:%s.%f') AS ts, CAST(d AS CHAR) AS d, CAST(j AS CHAR) AS j, HEX(bl) AS bl, CAST(e AS CHAR) AS e,
  CAST(f AS CHAR) AS f, CAST(b AS CHAR) AS b FROM typed ORDER BY id`;

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({
    sourceKind: 'mysql',
    ddl,
    dstUrl: await freshMysqlDatabase('dst_my'),
    destinationKind: 'mysql',
  });
  workers.push(spawnWorker(s.api));
});
after(async () => {
  await teardown(s, workers);
});

test('MariaDB -> MariaDB: snapshot, inserts, updates, deletes', async () => {
  await assertConverges(s, 'orders', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await waitActive(s);
  await q(
    s.srcUrl,
    "INSERT INTO orders (v, note) VALUES (4, 'd'), (5, 'e'); UPDATE orders " +
      "SET v = v * 10, note = 'upd' WHERE id % 2 = 0; DELETE FROM orders " +
      'WHERE id = 3',
  );
  await assertConverges(s, 'orders', ['id', 'v', 'note']);
});
