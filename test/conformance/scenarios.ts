// The conformance scenarios (fault scenarios a–g, poison/DLQ/replay, the type round-trip, the update
// storm), written once and run over every (source kind, destination kind) row of matrix.ts. Each
// takes a pipeline set up by conformance.ts on the kits' `events` / `big` tables and asserts
// destination == source at the end, reading the destination back through its kit.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { destinationModule } from '../../connectors';
import { LocalStack } from '../../stack/stack';
import {
  assertConverges,
  q,
  repo,
  rowsOf,
  Setup,
  sleep,
  spawnWorker,
  startLoad,
  status,
  topicRecords,
  waitFor,
  Worker,
  waitActive,
} from '../dataplane/harness';
import type { TcpProxy } from '../dataplane/tcp-proxy';
import type { DestinationKit, SourceKit } from './kits';
import type { TypeCase } from './type-cases';

/** The MySQL source tables (kept for tests outside the matrix, e.g. the failover drill). */
export const MYSQL_EVENTS_DDL =
  'CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, v int NOT NULL, note varchar(100));';
/** Outages last 10 s by default; the issue's 30 s works the same. */
export const OUTAGE_MS = Number(process.env.SLUICE_TEST_OUTAGE_MS ?? 10000);
export const COLS = ['id', 'v', 'note'];

/** Rows 1..n inserted in batches, in SQL that Postgres and MySQL both accept. */
export async function insertRows(
  url: string,
  table: string,
  n: number,
  row: (g: number) => Record<string, number | string>,
) {
  for (let start = 1; start <= n; start += 1000) {
    const rows: Record<string, number | string>[] = [];
    for (let g = start; g <= Math.min(n, start + 999); g++) rows.push(row(g));
    const cols = Object.keys(rows[0]);
    const lit = (v: number | string) => (typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);
    await q(
      url,
      `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${rows.map((r) => `(${cols.map((c) => lit(r[c])).join(', ')})`).join(', ')}`,
    );
  }
}

/** The schema (Postgres) or database (MySQL) of the source tables: topics and snapshot table names use it. */
export const sourceSchema = (s: Setup) => (s.sourceKind === 'mysql' ? new URL(s.srcUrl).pathname.slice(1) : 'public');

import type { Outage } from './kits';

async function seeded(s: Setup) {
  await insertRows(s.srcUrl, 'events', 100, (g) => ({ v: g, note: 'seed' }));
  await assertConverges(s, 'events', COLS);
}

/** a. The destination is stopped: Broken after the grace period, changes buffered in Kafka, delivered after the restart, DLQ empty. */
export async function destinationOutage(s: Setup, dest: Outage) {
  await seeded(s);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200, maxOps: 20000 });
  await sleep(1500);
  const t0 = Date.now();
  await dest.stop();
  const st = await waitFor(
    'Broken',
    async () => {
      const x = await status(s);
      return x.state === 'Broken' ? x : null;
    },
    20000,
  );
  assert.match(st.reason, /destination_unreachable/);
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - t0)));
  const during = (await status(s)).sink.lag;
  await dest.start();
  await sleep(1500);
  const { ops } = await load.stop();
  assert.ok(ops > 500, `load ran (${ops} ops)`);
  assert.ok(during === null || during > 0, 'events were buffered in Kafka during the outage');
  await assertConverges(s, 'events', COLS, { timeoutMs: 90000 });
  await waitFor('Active again', async () => (await status(s)).state === 'Active', 20000);
  assert.equal((await status(s)).dlq.count, 0);
}

/**
 * The source's acknowledged position `c` and its head `w`: the slot's confirmed LSN and the WAL LSN
 * (Postgres), or the persisted GTID position and @@gtid_binlog_pos (MySQL/MariaDB).
 */
async function confirmedLsn(s: Setup): Promise<{ c: string; w: string }> {
  if (s.sourceKind === 'mysql') {
    const [st] = await q(s.api.databaseUrl, `SELECT acked_lsn FROM source_state WHERE source_id = $1`, [s.sourceId]);
    const [h] = await q(s.srcUrl, `SELECT @@GLOBAL.gtid_binlog_pos AS w`);
    return { c: JSON.parse(st.acked_lsn).gtid, w: String(h.w) };
  }
  return (
    await q(
      s.srcUrl,
      'SELECT confirmed_flush_lsn::text AS c, pg_current_wal_lsn()::text AS ' +
        'w FROM pg_replication_slots WHERE slot_name = $1',
      [s.slot],
    )
  )[0];
}

/** b. The source Postgres is stopped: Broken, reconnects by itself, resumes from the acknowledged LSN. */
export async function sourceOutage(s: Setup, src: Outage) {
  await seeded(s);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200 });
  await sleep(1500);
  const before = (await confirmedLsn(s)).c;
  const t0 = Date.now();
  await src.stop();
  const st = await waitFor(
    'Broken',
    async () => {
      const x = await status(s);
      return x.state === 'Broken' ? x : null;
    },
    20000,
  );
  assert.match(st.reason, /source_unreachable/);
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - t0)));
  await src.start();
  await waitFor('Active again', async () => (await status(s)).state === 'Active', 30000);
  await sleep(1500);
  const { ops } = await load.stop();
  assert.ok(ops > 300, `load ran (${ops} ops)`);
  await assertConverges(s, 'events', COLS, { timeoutMs: 60000 });
  assert.notEqual((await confirmedLsn(s)).c, before, 'the slot advanced after the restart');
  assert.equal((await status(s)).dlq.count, 0);
}

const kafkaStack = new LocalStack({ log: () => undefined });
/**
 * test/run.sh exports KAFKA_BROKERS for the stack it started, which makes LocalStack treat Kafka as
 * external: manage it anyway when those brokers are this stack's own port.
 */
export const kafkaIsOurs =
  process.env.KAFKA_BROKERS === undefined ||
  process.env.KAFKA_BROKERS === `127.0.0.1:${process.env.SLUICE_KAFKA_PORT ?? 19092}`;
export async function withLocalKafka<T>(f: (stack: LocalStack) => Promise<T>): Promise<T> {
  const saved = process.env.KAFKA_BROKERS;
  delete process.env.KAFKA_BROKERS;
  try {
    return await f(kafkaStack);
  } finally {
    if (saved !== undefined) process.env.KAFKA_BROKERS = saved;
  }
}

/** c. The Kafka broker is killed and restarted: the source stops acknowledging (the slot's confirmed LSN holds still while WAL grows), nothing is lost. */
export async function kafkaOutage(s: Setup) {
  await seeded(s);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200, maxOps: 20000 });
  await sleep(1500);
  await withLocalKafka((stack) => stack.killService('kafka'));
  await sleep(3000);
  const a = await confirmedLsn(s);
  await sleep(5000);
  const b = await confirmedLsn(s);
  assert.equal(b.c, a.c, 'confirmed_flush_lsn must not move while Kafka is down');
  assert.notEqual(b.w, a.w, 'the source kept writing');
  const st = await waitFor(
    'Broken',
    async () => {
      const x = await status(s);
      return x.state === 'Broken' ? x : null;
    },
    20000,
  );
  assert.match(st.reason, /kafka/i);
  await withLocalKafka((stack) => stack.startService('kafka'));
  await sleep(2000);
  await load.stop();
  await assertConverges(s, 'events', COLS, { timeoutMs: 120000 });
  await waitFor('Active again', async () => (await status(s)).state === 'Active', 60000);
  assert.notEqual((await confirmedLsn(s)).c, a.c, 'acknowledging resumed');
  assert.equal((await status(s)).dlq.count, 0);
}

/** The live worker that holds the pipeline now (status.worker_id is `<host>:<pid>`). */
async function holder(s: Setup, workers: Worker[]) {
  const st = await status(s);
  const pid = Number(String(st.worker_id ?? '').split(':')[1]);
  return workers.find((w) => w.proc.pid === pid && w.proc.exitCode === null && w.proc.signalCode === null);
}

/** d1. kill -9 of the worker holding the pipeline mid-stream: another of `workers` takes over within 30 s, nothing lost. Adds a worker back. */
export async function workerKillMidStream(s: Setup, workers: Worker[]) {
  await seeded(s);
  await waitActive(s);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200, maxOps: 20000 });
  await sleep(2000);
  const victim = await waitFor('holder', () => holder(s, workers), 10000);
  victim.proc.kill('SIGKILL');
  const t0 = performance.now();
  await waitFor(
    'takeover',
    async () => {
      const h = await holder(s, workers);
      const st = await status(s);
      return h && h !== victim && st.state === 'Active';
    },
    30000,
    250,
  );
  const took = Math.round(performance.now() - t0);
  assert.ok(took < 30000, `takeover after ${took} ms`);
  await sleep(1500);
  await load.stop();
  await assertConverges(s, 'events', COLS);
  workers.push(spawnWorker(s.api)); // back to two workers
}

/** d2. kill -9 mid-snapshot (of `big`, `rows` rows, chunks of 500): the snapshot resumes from its last chunk, nothing lost. */
export async function workerKillMidSnapshot(s: Setup, workers: Worker[], dst: DestinationKit, rows = 60000) {
  await insertRows(s.srcUrl, 'big', rows, (g) => ({ id: g, v: g, note: `row ${g}` }));
  await assertConverges(s, 'big', COLS, { timeoutMs: 60000 }); // streamed
  // A fresh snapshot of big (as after a TRUNCATE at the destination) while streaming continues.
  await dst.truncate!(s.dstUrl, 'big');
  const table = `${sourceSchema(s)}.big`;
  const r = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/snapshots`, { tables: [table] });
  assert.equal(r.status, 202, r.text);
  const sid = r.body.id;
  const load = startLoad(s.srcUrl, 'events', { perSecond: 100, maxOps: 20000 });
  const prog = async () => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/snapshots/${sid}`)).body;
  await waitFor('snapshot under way', async () => (await prog()).rows_done >= rows / 6, 60000, 100);
  const rowsAtKill = (await prog()).rows_done;
  const victim = await waitFor('holder', () => holder(s, workers), 10000);
  await q(s.srcUrl, `UPDATE big SET v = -v WHERE id % 1000 = 0`);
  victim.proc.kill('SIGKILL');
  await waitFor('snapshot done', async () => (await prog()).status === 'done', 120000, 250);
  const done = await prog();
  assert.equal(done.progress[table].done, true);
  // Resumed, not restarted: the total read is at most a chunk or so more than the table.
  assert.ok(
    done.rows_done >= rows && done.rows_done <= rows + 2 * 500,
    `rows read ${done.rows_done} (killed at ${rowsAtKill})`,
  );
  await load.stop();
  await assertConverges(s, 'big', COLS, { timeoutMs: 60000 });
  await assertConverges(s, 'events', COLS);
}

/** The map_filter transform of the poison scenario: 'boom' throws, 'spin' runs past its CPU limit. */
export const POISON_TRANSFORM = {
  kind: 'map_filter',
  config: {
    code:
      "function transform(e) { if (e.after && e.after.note === 'boom') throw " +
      "new Error('boom row'); if (e.after && e.after.note === 'spin') { " +
      'while (true) {} } return e; }',
    timeout_ms: 50,
  },
};

/**
 * f. Poison records go to the DLQ after max_retries (3) while the rest flows; after the fix, replay
 * delivers them. Needs the pipeline to have POISON_TRANSFORM and the destination's `events` table made
 * by its kit's rejectNegative (which says which rows it rejects and with which error classes).
 */
export async function poisonAndReplay(
  s: Setup,
  rejection: {
    rejects: (row: { v: number; note: string }) => boolean;
    errorClasses: string[];
    accept: () => Promise<void>;
  },
) {
  const rows = Array.from({ length: 500 }, (_, i) => i + 1).map((g) => ({
    v: g % 50 === 0 ? -g : g,
    note: g % 100 === 7 ? `much too long ${g}` : `r${g}`,
  }));
  await insertRows(s.srcUrl, 'events', rows.length, (g) => rows[g - 1]);
  await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (1, 'boom'), (2, 'spin')`);
  await insertRows(s.srcUrl, 'events', 100, (g) => ({ v: g, note: 'after' }));
  const rejected = rows.filter(rejection.rejects).length;
  const expected = rejected + 2;
  // Healthy rows flow: everything but the rows the destination rejects and the 2 transform failures.
  const healthy = (row: Record<string, string | null>) =>
    row.note !== 'boom' && row.note !== 'spin' && !rejection.rejects({ v: Number(row.v), note: String(row.note) });
  let src: Record<string, string | null>[] = [];
  let dst: Record<string, string | null>[] = [];
  await waitFor(
    'the healthy rows arrive',
    async () => {
      src = (await rowsOf(s.srcUrl, 'events', COLS)).filter(healthy);
      dst = (await s.dstRows!('events', COLS, 'id', '')).filter(healthy);
      return JSON.stringify(dst) === JSON.stringify(src);
    },
    60000,
    500,
  ).catch((e) => {
    throw new Error(
      `${(e as Error).message}: source ${src.length} healthy rows, destination ${dst.length}; first ` +
        `source ${JSON.stringify(src.slice(0, 2))}, destination ${JSON.stringify(dst.slice(0, 2))}`,
    );
  });
  const dlq = await waitFor(
    `${expected} in DLQ`,
    async () => {
      const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?page_size=100`);
      return r.body.total === expected ? r.body : null;
    },
    30000,
  );
  const classes = new Set(dlq.items.map((x: any) => x.error_class));
  assert.deepEqual([...classes].sort(), [...rejection.errorClasses, 'transform_error'].sort());
  assert.ok(
    dlq.items.every(
      (x: any) => x.attempts === 4 && x.topic.endsWith(`.${sourceSchema(s)}.events`) && Number.isInteger(x.offset),
    ),
  );
  assert.equal((await status(s)).dlq.count, expected);
  // Fix the destination and the transform, then replay everything.
  await rejection.accept();
  const t = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}`)).body.transform_ids[0];
  const sinceBefore = (await status(s)).since;
  const upd = await s.api.call('PATCH', `/v1/transforms/${t}`, {
    config: { code: 'function transform(e) { return e; }' },
  });
  assert.equal(upd.status, 200, upd.text);
  // The runner restarts on the configuration change; replaying before that would meet the old transform.
  await waitFor(
    'runner restarted with new transform',
    async () => {
      const st = await status(s);
      return st.state === 'Active' && st.since !== sinceBefore;
    },
    30000,
  );
  const rp = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/dlq/replay`, { all: true });
  assert.equal(rp.status, 202, rp.text);
  assert.equal(rp.body.replay_requested, expected);
  await assertConverges(s, 'events', COLS, { timeoutMs: 30000 }).catch(async (e) => {
    // What the replay left behind says why (a record back in the DLQ carries its error).
    const left = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?status=pending,replay_requested`);
    const why = (left.body.items ?? []).map((x: any) => `${x.id} ${x.status} ${x.error_message}`);
    throw new Error(`${(e as Error).message}; DLQ records not replayed: ${JSON.stringify(why)}`);
  });
  await waitFor('DLQ empty', async () => (await status(s)).dlq.count === 0, 10000);
  const replayed = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?status=replayed&page_size=100`);
  assert.equal(replayed.body.total, expected);
  // The post-outage checklist agrees: state, lag, DLQ and the row counts of both sides.
  const n = (await q(s.srcUrl, 'SELECT COUNT(*) AS n FROM events'))[0].n;
  const v = await waitFor(
    'verify passes',
    async () => {
      const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`);
      return r.body.pass ? r.body : null;
    },
    30000,
    1000,
  ).catch(async () => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`)).body);
  assert.ok(v.pass, JSON.stringify(v.checks));
  // A kind without a row counter (its module has no openCounter) says so instead of comparing.
  const detail = destinationModule(s.dstKind).openCounter
    ? `source ${n}, destination ${n}`
    : `source ${n}; a ${s.dstKind} destination cannot count what it holds (not compared)`;
  assert.ok(
    v.checks.some(
      (c: any) => c.check === 'row_count' && c.table === `${sourceSchema(s)}.events` && c.detail === detail,
    ),
    JSON.stringify(v.checks),
  );
}

/** e. Network cut, then stall, between the worker and both databases (TCP proxies): retries and recovers, nothing lost. */
export async function networkCutAndStall(s: Setup, proxies: TcpProxy[]) {
  await insertRows(s.srcUrl, 'events', 100, (g) => ({ v: g, note: 'seed' }));
  await assertConverges(s, 'events', COLS);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200 });
  await sleep(1500);
  // Cut: every connection reset, new ones refused.
  for (const p of proxies) p.cut();
  const st = await waitFor(
    'Broken during the cut',
    async () => {
      const x = await status(s);
      return x.state === 'Broken' ? x : null;
    },
    20000,
  );
  assert.match(st.reason, /unreachable/);
  await sleep(2000);
  for (const p of proxies) p.heal();
  await waitFor('Active after the cut', async () => (await status(s)).state === 'Active', 30000);
  await sleep(1500);
  // Stall: connections stay open but nothing moves for 10 s.
  for (const p of proxies) p.stall();
  await sleep(10000);
  for (const p of proxies) p.heal();
  await waitFor('Active after the stall', async () => (await status(s)).state === 'Active', 30000);
  await sleep(1500);
  await load.stop();
  await assertConverges(s, 'events', COLS, { timeoutMs: 60000 });
  assert.equal((await status(s)).dlq.count, 0);
}

/** g. The source's position is lost (slot dropped): Broken slot_lost with on_slot_loss=fail; resnapshot recreates it and closes the gap, deletes included. */
export async function slotLoss(s: Setup, dropPosition: () => Promise<void>) {
  await insertRows(s.srcUrl, 'events', 200, (g) => ({ v: g, note: 'seed' }));
  await assertConverges(s, 'events', COLS);
  const load = startLoad(s.srcUrl, 'events', { perSecond: 200 });
  await sleep(1000);
  await dropPosition();
  const st = await waitFor(
    'Broken slot_lost',
    async () => {
      const x = await status(s);
      return x.state === 'Broken' ? x : null;
    },
    20000,
  );
  assert.equal(st.reason, 'slot_lost');
  await sleep(2000); // changes made now are in no slot
  // The load deletes rows too, so take 20 rows that still exist rather than a fixed id pattern.
  const gone = await q(
    s.srcUrl,
    `DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT 20) RETURNING id`,
  );
  // The load may delete one of them between the subquery and the delete (19 of 20 in a repeat round): the
  // check below counts the rows this statement deleted, however many.
  assert.ok(gone.length >= 10, `only ${gone.length} rows deleted`);
  const r = await s.api.call('PATCH', `/v1/sources/${s.sourceId}`, { config: { on_slot_loss: 'resnapshot' } });
  assert.equal(r.status, 200, r.text);
  await waitFor(
    'slot recreated',
    async () => (await q(s.srcUrl, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [s.slot])).length > 0,
    20000,
  );
  await sleep(1500);
  // A second loss while on_slot_loss=resnapshot is handled without a person.
  await dropPosition();
  await sleep(1500);
  await load.stop();
  await assertConverges(s, 'events', COLS, { timeoutMs: 60000 });
  await waitActive(s);
  const snaps = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/snapshots`);
  const gapSnaps = snaps.body.items.filter((x: any) => x.reason === 'slot_lost' && x.status === 'done');
  assert.ok(gapSnaps.length >= 2, JSON.stringify(snaps.body.items.map((x: any) => [x.reason, x.status])));
  const gapDeletes = gapSnaps.reduce(
    (a: number, x: any) => a + (x.progress[`${sourceSchema(s)}.events`].gap_deletes ?? 0),
    0,
  );
  assert.ok(
    gapDeletes >= gone.length,
    `gap deletes ${gapDeletes} cover the ${gone.length} rows deleted while no slot existed`,
  );
}

/**
 * Every value of the row's typed table arrives exactly (as its TypeCase reads both sides): rows that
 * existed before the pipeline (the initial snapshot reads them), the same rows inserted again while it
 * streams, then updates of every type and a delete. The pipeline is set up with tc.ddl + tc.insert.
 */
export async function typeRoundTrip(s: Setup, tc: TypeCase) {
  const converge = async (what: string) => {
    let src: unknown[] = [];
    let dst: unknown[] = [];
    await waitFor(
      what,
      async () => {
        src = await tc.source(s.srcUrl);
        dst = await tc.destination(s.dstUrl);
        return src.length > 0 && JSON.stringify(src) === JSON.stringify(dst);
      },
      90000,
      500,
    ).catch(() => undefined);
    assert.ok(src.length > 0, 'the typed table has rows');
    assert.deepEqual(dst, src);
  };
  await converge('typed rows of the initial snapshot equal');
  if (tc.columnTypes) assert.deepEqual(await tc.columnTypes.read(s.dstUrl), tc.columnTypes.expect);
  await waitActive(s);
  await q(s.srcUrl, tc.insert);
  await converge('typed rows streamed equal');
  const events = (await topicRecords(`${s.prefix}.${sourceSchema(s)}.typed`)).map((r) => r.env);
  assert.ok(
    events.some((e) => e.op === 'r') && events.some((e) => e.op === 'c'),
    'the values travelled both as snapshot rows and as stream events',
  );
  if (tc.envelope) for (const op of ['r', 'c']) tc.envelope(events.filter((e) => e.op === op));
  await q(s.srcUrl, tc.change);
  await converge('typed rows equal after updates and a delete');
}

/** Updates of the same keys in a burst arrive in commit order per key (the topic holds each key's changes in order) and the last one wins. */
export async function updateStorm(s: Setup) {
  // Streaming from an established position first: changes made before it are only in the initial snapshot.
  await waitActive(s);
  await insertRows(s.srcUrl, 'storm', 10, (g) => ({ id: g, seq: 0 }));
  for (let round = 1; round <= 100; round++) await q(s.srcUrl, `UPDATE storm SET seq = ${round}`);
  await assertConverges(s, 'storm', ['id', 'seq']);
  // The topic holds every change; per key they must be in commit order (seq strictly increasing).
  const seen = new Map<string, number[]>();
  for (const { key, env: e } of await topicRecords(`${s.prefix}.${sourceSchema(s)}.storm`)) {
    // A snapshot row ('r', the initial snapshot may still run) repeats a state the stream carries too.
    if (e.op === 'r') continue;
    if (!seen.has(key!)) seen.set(key!, []);
    seen.get(key!)!.push(Number(e.after.seq));
  }
  assert.equal(seen.size, 10);
  for (const [k, seqs] of seen) {
    const updates = seqs.filter((x) => x > 0);
    for (let i = 1; i < updates.length; i++)
      assert.ok(updates[i] > updates[i - 1], `key ${k} out of order at ${i}: ${updates.slice(i - 2, i + 2)}`);
    assert.equal(updates[updates.length - 1], 100);
  }
}

/**
 * Schema changes under each policy of `schema_changes`, rows written before, during and after each
 * change compared with the source. propagate: a column added in the same transaction as inserts
 * (they land with it), a dropped column (kept downstream, nullable, NULL in new rows), a rename (a
 * drop plus an add), a widened type (altered downstream), an incompatible one (Broken
 * schema_incompatible naming table, column and types until resolved with a resnapshot);
 * ignore_new_columns: a new column stays out; fail: any change holds the table (Broken
 * schema_changed) until acknowledged.
 */
export async function schemaChanges(s: Setup, kit: SourceKit) {
  const ddl = kit.schema;
  const table = `${sourceSchema(s)}.sc`;
  let n = 0;
  const rows = (count: number, extra: Record<string, string> = {}) =>
    Array.from({ length: count }, () => {
      n++;
      // Prices with one decimal: the narrowing below changes the type, not these values.
      return `INSERT INTO sc (id, v, note, ${['price', ...Object.keys(extra)].join(', ')}) VALUES (${n}, ${n}, 'r${n}', ${n % 97}.5${Object.values(
        extra,
      )
        .map((v) => `, '${v}${n}'`)
        .join('')})`;
    });
  const converge = (cols: string[]) => assertConverges(s, 'sc', cols, { timeoutMs: 90000 });
  const history = async () =>
    (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/schema`)).body.tables.find((t: any) => t.table === table);
  await waitActive(s);
  for (const q1 of rows(20)) await q(s.srcUrl, q1);
  await converge(['id', 'v', 'note', 'price']);

  // propagate: added in the same transaction as inserts before and after it.
  await q(s.srcUrl, ddl.transaction([...rows(5), ddl.add('added'), ...rows(5, { added: 'a' })]));
  for (const q1 of rows(5, { added: 'a' })) await q(s.srcUrl, q1);
  await converge(['id', 'v', 'note', 'price', 'added']);
  const h1 = await history();
  assert.ok(
    h1.history.some((v: any) => v.changes.some((c: any) => c.kind === 'added' && c.column === 'added') && v.position),
    JSON.stringify(h1.history),
  );
  // Dropped: kept downstream, NULL in new rows. Renamed: a drop plus an add (the source cannot tell a
  // rename apart): the old column keeps its values downstream, the new one fills from now on.
  const lastAdded = n;
  await q(s.srcUrl, ddl.drop('note2'));
  await q(s.srcUrl, ddl.rename('added', 'renamed'));
  const afterRename = n + 1;
  for (const q1 of rows(5, { renamed: 'x' })) await q(s.srcUrl, q1);
  await converge(['id', 'v', 'note', 'price']);
  await assertConverges(s, 'sc', ['id', 'renamed'], {
    srcWhere: `WHERE id >= ${afterRename}`,
    dstWhere: `WHERE id >= ${afterRename}`,
  });
  const fresh = await s.dstRows!('sc', ['id', 'note2', 'added'], 'id', `WHERE id >= ${afterRename}`);
  assert.ok(
    fresh.length === 5 && fresh.every((r) => r.note2 === null && r.added === null),
    `dropped columns are NULL in new rows: ${JSON.stringify(fresh)}`,
  );
  const kept = await s.dstRows!('sc', ['id', 'added'], 'id', `WHERE id > 25 AND id <= ${lastAdded}`);
  const renamedAtSource = await rowsOf(s.srcUrl, 'sc', ['id', 'renamed'], 'id', `WHERE id > 25 AND id <= ${lastAdded}`);
  assert.deepEqual(
    kept.map((r) => [r.id, r.added]),
    renamedAtSource.map((r) => [r.id, r.renamed]),
    "the renamed column's old values are kept in the old column",
  );
  // Widened: int -> bigint, then a value beyond 32 bits.
  await q(s.srcUrl, ddl.widen);
  await q(s.srcUrl, `UPDATE sc SET v = 5000000000 WHERE id = 1`);
  await converge(['id', 'v', 'note', 'price']);
  // Incompatible: numeric(10,2) -> numeric(6,1) changes values; the table is held until resolved.
  await q(s.srcUrl, ddl.narrow);
  const before = n;
  for (const q1 of rows(3)) await q(s.srcUrl, q1);
  const broken = await waitFor(
    'Broken schema_incompatible',
    async () => {
      const x = await status(s);
      return x.state === 'Broken' && /^schema_incompatible/.test(x.reason) ? x : null;
    },
    60000,
  );
  assert.match(
    broken.reason,
    new RegExp(`table ${table.replace('.', '\\.')}: column price changed from numeric\\(10,2\\) to numeric\\(6,1\\)`),
  );
  assert.match(broken.reason, /resnapshot/);
  assert.match(broken.reason, /new_column/);
  const v = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`)).body;
  assert.ok(
    v.checks.some((c: any) => c.check === 'state' && !c.pass && c.detail.includes('schema_incompatible')),
    JSON.stringify(v.checks),
  );
  const cli = await sluiceCli(s, ['status', '--json']);
  const line = JSON.parse(cli).pipelines.find((p: any) => p.id === s.pipelineId);
  assert.match(
    String(line?.reason),
    /^schema_incompatible: table /,
    `sluice status shows the reason: ${cli.slice(0, 2000)}`,
  );
  assert.equal(
    (await s.dstRows!('sc', ['id'], 'id', `WHERE id > ${before}`)).length,
    0,
    'nothing of the held table was written',
  );
  const bad = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/schema/ack`, {});
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /resolution/);
  const ack = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/schema/ack`, { table, resolution: 'resnapshot' });
  assert.equal(ack.status, 200, ack.text);
  // The resnapshot refills the recreated column (and every other column of the table).
  await converge(['id', 'v', 'note', 'price', 'renamed']);
  await waitFor('Active after the resolution', async () => (await status(s)).state === 'Active', 60000);

  // ignore_new_columns: the destination's columns stay as they are.
  await setPolicy(s, 'ignore_new_columns');
  await q(s.srcUrl, ddl.add('ignored'));
  for (const q1 of rows(5, { ignored: 'i' })) await q(s.srcUrl, q1);
  await converge(['id', 'v', 'note', 'price', 'renamed']);
  await assert.rejects(s.dstRows!('sc', ['id', 'ignored'], 'id', ''), 'the ignored column is not at the destination');

  // fail: any change holds the table until acknowledged; then it is applied.
  await setPolicy(s, 'fail');
  await q(s.srcUrl, ddl.add('held'));
  const beforeHeld = n;
  for (const q1 of rows(5, { ignored: 'i', held: 'h' })) await q(s.srcUrl, q1);
  const held = await waitFor(
    'Broken schema_changed',
    async () => {
      const x = await status(s);
      return x.state === 'Broken' && /^schema_changed/.test(x.reason) ? x : null;
    },
    60000,
  );
  assert.match(held.reason, /column held added/);
  assert.equal(
    (await s.dstRows!('sc', ['id'], 'id', `WHERE id > ${beforeHeld}`)).length,
    0,
    'nothing of the held table was written',
  );
  const ok = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/schema/ack`, {});
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.acknowledged.length, 1);
  await converge(['id', 'v', 'note', 'price', 'renamed', 'held']);
  const final = await history();
  assert.ok(
    final.history.length >= 7,
    `every change is in the ` +
      `history: ${JSON.stringify(final.history.map((x: any) => [x.version, x.status, x.changes.map((c: any) => c.kind + ' ' + c.column)]))}`,
  );
  assert.equal((await status(s)).dlq.count, 0);
}

/** Changes the pipeline's schema_changes; the runner restarts with it. */
async function setPolicy(s: Setup, policy: string) {
  const sinceBefore = (await status(s)).since;
  const r = await s.api.call('PATCH', `/v1/pipelines/${s.pipelineId}`, { schema_changes: policy });
  assert.equal(r.status, 200, r.text);
  await waitFor(
    `runner restarted with schema_changes ${policy}`,
    async () => {
      const st = await status(s);
      return st.state === 'Active' && st.since !== sinceBefore;
    },
    60000,
  );
}

/**
 * A table created at the source while the pipeline streams is captured without a restart, and (with
 * snapshot_new_tables) backfilled: rows written before it was captured arrive, then its changes stream.
 */
export async function newTables(s: Setup) {
  await waitActive(s);
  await q(s.srcUrl, 'CREATE TABLE late (id int PRIMARY KEY, v varchar(100))');
  await insertRows(s.srcUrl, 'late', 50, (g) => ({ id: g, v: `before ${g}` }));
  await assertConverges(s, 'late', ['id', 'v'], { timeoutMs: 90000 });
  await insertRows(s.srcUrl, 'late', 10, (g) => ({ id: 100 + g, v: `after ${g}` }));
  await q(s.srcUrl, `UPDATE late SET v = 'changed' WHERE id <= 5`);
  await q(s.srcUrl, `DELETE FROM late WHERE id > 105`);
  await assertConverges(s, 'late', ['id', 'v'], { timeoutMs: 60000 });
  const snaps = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/snapshots`)).body.items;
  assert.ok(
    snaps.some(
      (x: any) => x.reason === 'new_table' && x.status === 'done' && x.tables.includes(`${sourceSchema(s)}.late`),
    ),
    JSON.stringify(snaps.map((x: any) => [x.reason, x.status, x.tables])),
  );
  assert.equal((await status(s)).dlq.count, 0);
}

/** `bin/sluice <args>` against the test's API (its token), as a user runs it. */
function sluiceCli(s: Setup, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(repo, 'dist', 'bin', 'sluice.js'), ...args],
      { encoding: 'utf8', env: { ...process.env, SLUICE_ENDPOINT: s.api.url, SLUICE_TOKEN: s.api.token } },
      (err, stdout, stderr) =>
        err ? reject(new Error(`sluice ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout),
    );
  });
}
