// snapshot_mode initial_only: the captured tables are snapshotted once, then the source streams no
// more (Postgres drops its slot); a further snapshot is refused with 409; switching the source to
// initial starts afresh. For Postgres and MariaDB sources.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConverges,
  q,
  rowsOf,
  setupPipeline,
  Setup,
  sleep,
  spawnWorker,
  status,
  teardown,
  waitFor,
  Worker,
} from './harness';

const pgDdl = `CREATE TABLE items (id serial PRIMARY KEY, v int NOT NULL, note text);
               INSERT INTO items (v, note) SELECT g, 'n' || g FROM generate_series(1, 500) g;`;
const myDdl = `CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, v int NOT NULL, note text);
               INSERT INTO items (v, note) SELECT seq, CONCAT('n', seq) FROM seq_1_to_500;`;
let pg: Setup;
let my: Setup;
const workers: Worker[] = [];
before(async () => {
  pg = await setupPipeline({ ddl: pgDdl, source: { snapshot_mode: 'initial_only' } });
  my = await setupPipeline({ ddl: myDdl, sourceKind: 'mysql', source: { snapshot_mode: 'initial_only' } });
  workers.push(spawnWorker(pg.api), spawnWorker(my.api));
});
after(async () => {
  await teardown(pg, workers);
  await teardown(my, []);
});

async function snapshotComplete(s: Setup) {
  return waitFor(
    'Active with reason snapshot_complete',
    async () => {
      const st = await status(s);
      return st.state === 'Active' && /^snapshot_complete/.test(String(st.reason)) ? st : null;
    },
    60000,
  );
}

for (const which of ['postgresql', 'mysql'] as const) {
  test(`${which} source, initial_only: snapshot delivered, then nothing streams; 409 on a new snapshot; initial starts afresh`, async () => {
    const s = which === 'postgresql' ? pg : my;
    await assertConverges(s, 'items', ['id', 'v', 'note'], { timeoutMs: 60000 });
    const st = await snapshotComplete(s);
    assert.equal(st.source.state, 'stopped');
    if (which === 'postgresql') {
      const slots = await q(s.srcUrl, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [s.slot]);
      assert.equal(slots.length, 0, 'the slot is dropped once the snapshot is in Kafka: no WAL kept for it');
    }

    await q(s.srcUrl, `INSERT INTO items (v, note) VALUES (9001, 'after the snapshot')`);
    await sleep(3000);
    const dst = await rowsOf(s.dstUrl, 'items', ['id', 'v', 'note']);
    assert.equal(dst.length, 500, 'a change after the snapshot is not streamed');

    const snap = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/snapshots`, {
      tables: [which === 'postgresql' ? 'public.items' : `${new URL(s.srcUrl).pathname.slice(1)}.items`],
    });
    assert.equal(snap.status, 409, snap.text);
    assert.match(snap.body.detail, /snapshot_mode "initial_only".*Set its snapshot_mode to "initial"/);

    // A restart keeps it that way (no slot, no stream).
    assert.equal((await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/restart`)).status, 202);
    await sleep(2000);
    await snapshotComplete(s);
    if (which === 'postgresql')
      assert.equal((await q(s.srcUrl, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [s.slot])).length, 0);

    // Switched to initial: a new position and a new initial snapshot close the gap, then it streams.
    const r = await s.api.call('PATCH', `/v1/sources/${s.sourceId}`, { config: { snapshot_mode: 'initial' } });
    assert.equal(r.status, 200, r.text);
    await assertConverges(s, 'items', ['id', 'v', 'note'], { timeoutMs: 60000 });
    await waitFor(
      'Active, streaming',
      async () => {
        const x = await status(s);
        return x.state === 'Active' && x.reason === null;
      },
      30000,
    );
    await q(s.srcUrl, `UPDATE items SET note = 'streamed' WHERE id = 1`);
    await assertConverges(s, 'items', ['id', 'v', 'note'], { timeoutMs: 30000 });
  });
}
