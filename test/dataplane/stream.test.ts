import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { kafkajs } from '../../patches';
import { assertConverges, env, q, rowsOf, setupPipeline, Setup, spawnWorker, status, teardown, waitFor, Worker } from './harness';

const TYPES_COLS = ['id', 'i', 'bi', 'n', 't', 'b', 'ts', 'tstz', 'd', 'u', 'j', 'jb', 'by', 'arr', 'tarr', 'f', 'big'];
const ddl = `
  CREATE TABLE typed (id bigserial PRIMARY KEY, i int, bi bigint, n numeric(30,10), t text, b boolean, ts timestamp, tstz timestamptz, d date, u uuid,
    j json, jb jsonb, "by" bytea, arr int[], tarr text[], f float8, big numeric);
  CREATE TABLE orders (id serial PRIMARY KEY, v int NOT NULL, note text);
  CREATE TABLE storm (id int PRIMARY KEY, seq int NOT NULL);
  INSERT INTO orders (v, note) SELECT g, 'pre' || g FROM generate_series(1, 50) g;
`;

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('initial snapshot, then streaming; a row is in the destination within 2 s; status Active', async () => {
  await assertConverges(s, 'orders', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await waitFor('Active', async () => (await status(s)).state === 'Active', 20000);
  const t0 = Date.now();
  const [row] = await q(s.srcUrl, `INSERT INTO orders (v, note) VALUES (4242, 'latency') RETURNING id`);
  await waitFor('row visible', async () => (await q(s.dstUrl, `SELECT 1 FROM orders WHERE id = $1`, [row.id])).length > 0, 2000, 20);
  const ms = Date.now() - t0;
  assert.ok(ms <= 2000, `visible after ${ms} ms`);
  const st = await status(s);
  assert.equal(st.state, 'Active');
  assert.ok(st.source.position, 'source position reported');
  await waitFor('replication lag reported', async () => typeof (await status(s)).source.replication_lag_bytes === 'number', 5000);
});

test('every type round-trips exactly (incl. NULLs), updates and deletes apply', async () => {
  await q(s.srcUrl, `INSERT INTO typed (i, bi, n, t, b, ts, tstz, d, u, j, jb, "by", arr, tarr, f, big) VALUES
    (-2147483648, 9007199254740993, 12345678901234567890.0123456789, 'héllo ''quoted'' "x" \\ tab	end', true, '2024-02-29 23:59:59.123456', '2024-01-01 12:00:00.5+05:30', '0001-01-01',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50, "x"], "b": null}', '{"k": {"nested": true}, "n": 1.0}', '\\x00ff10', '{1,NULL,3}', '{"a b","c,d",NULL}', 1.0000000000000002, 1e40),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, -1, -0.5, '', false, '1999-12-31 00:00:00', '1970-01-01 00:00:00+00', '2038-01-19', '00000000-0000-0000-0000-000000000000', '[]', '[]', '\\x', '{}', '{}', -0.0, 0)`);
  await assertConverges(s, 'typed', TYPES_COLS);
  await q(s.srcUrl, `UPDATE typed SET t = 'changed', jb = '{"v": 2}', n = 0.0000000001 WHERE i = 0; DELETE FROM typed WHERE i IS NULL`);
  // A value that starts with U+FEFF keeps it (a TextDecoder would strip it as a byte order mark).
  await q(s.srcUrl, `UPDATE typed SET t = E'\\uFEFFbom', tarr = ARRAY[E'\\uFEFFx'] WHERE i = -2147483648`);
  await assertConverges(s, 'typed', TYPES_COLS);
});

test('a 1,000-row transaction arrives whole', async () => {
  await q(s.srcUrl, `INSERT INTO orders (v, note) SELECT g, 'bulk' FROM generate_series(1, 1000) g`);
  // Whole: the destination never shows a partial transaction (it is written in one destination transaction or more, but
  // every poll sees either 0 or 1000 of them once the first appears) - we check the end state and no duplicates.
  await waitFor('bulk rows', async () => Number((await q(s.dstUrl, `SELECT count(*) AS n FROM orders WHERE note = 'bulk'`))[0].n) === 1000, 30000, 100);
  await assertConverges(s, 'orders', ['id', 'v', 'note']);
});

test('a 120,000-row transaction goes to Kafka in parts (memory stays bounded) and arrives whole', async () => {
  await q(s.srcUrl, `INSERT INTO orders (v, note) SELECT g, 'huge' FROM generate_series(1, 120000) g`);
  await waitFor('huge rows', async () => Number((await q(s.dstUrl, `SELECT count(*) AS n FROM orders WHERE note = 'huge'`))[0].n) === 120000, 90000, 200);
  await assertConverges(s, 'orders', ['id', 'v', 'note']);
  // Beyond SLUICE_TX_SPILL_EVENTS (50,000) decoded events, the buffer sends the open transaction on.
  assert.match(fs.readFileSync(workers[0].logFile, 'utf8'), /sending it to Kafka in parts/);
});

test('update storm on the same keys arrives in commit order per key', async () => {
  await q(s.srcUrl, `INSERT INTO storm SELECT g, 0 FROM generate_series(1, 10) g`);
  for (let round = 1; round <= 100; round++) await q(s.srcUrl, `UPDATE storm SET seq = $1`, [round]);
  await assertConverges(s, 'storm', ['id', 'seq']);
  const rows = await rowsOf(s.dstUrl, 'storm', ['id', 'seq']);
  assert.ok(rows.every((r) => r.seq === '100'));
  // The Kafka topic holds every change; per key they must be in commit order (seq strictly increasing).
  const { Kafka } = kafkajs();
  const kafka = new Kafka({ brokers: env.kafkaBrokers, logLevel: 0 });
  const consumer = kafka.consumer({ groupId: `check-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [`${s.prefix}.public.storm`], fromBeginning: true });
  const seen = new Map<string, number[]>();
  let n = 0;
  await consumer.run({ eachMessage: async ({ message }) => {
    const e = JSON.parse(message.value!.toString());
    const k = message.key!.toString();
    if (!seen.has(k)) seen.set(k, []);
    seen.get(k)!.push(e.after.seq);
    n++;
  } });
  await waitFor('storm events consumed', async () => n >= 1010, 20000);
  await consumer.disconnect();
  assert.equal(seen.size, 10);
  for (const [k, seqs] of seen) {
    const updates = seqs.filter((x) => x > 0);
    for (let i = 1; i < updates.length; i++) assert.ok(updates[i] > updates[i - 1], `key ${k} out of order at ${i}: ${updates.slice(i - 2, i + 2)}`);
    assert.equal(updates[updates.length - 1], 100);
  }
});
