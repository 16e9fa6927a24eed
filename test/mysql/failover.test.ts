// test-lane: exclusive (stops, promotes and resets the stack MariaDB pair; test/run.sh runs it alone)
// Issue 5, failover: a MariaDB primary and its GTID replica on loopback, a MySQL source on the
// primary streaming into Postgres in upsert mode under a steady write load. The primary is stopped
// mid-load, the replica promoted, the source's host switched to it through the API; the source
// resumes from its persisted GTID position on the new server, and the destination ends equal to the
// promoted replica (the surviving truth) with no re-read history and no new snapshot.
//
// Starts from a fresh primary + replica (a previous run or drill may have left a promoted replica
// and a diverged primary) and leaves a fresh, replicating pair behind for later test files.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertConverges,
  q,
  rowsOf,
  setupPipeline,
  Setup,
  spawnWorker,
  startLoad,
  status,
  teardown,
  topicRecords,
  waitFor,
  Worker,
} from '../dataplane/harness';
import { COLS, insertRows, MYSQL_EVENTS_DDL } from '../conformance/scenarios';
import { mariadbStack, mysqlQuery, mysqlUrlWithDatabase } from '../mysql-helpers';
import { positionPortability } from '../../connectors/source-mysql/position';

interface Gtid {
  domain: number;
  server: number;
  seq: number;
}
/** A single-domain MariaDB GTID position `D-S-N` (what this stack's pair uses: domain 0). */
function parseGtid(pos: string, what: string): Gtid {
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(pos);
  assert.ok(m, `${what}: expected a single-domain MariaDB GTID position D-S-N, got ${JSON.stringify(pos)}`);
  return { domain: Number(m[1]), server: Number(m[2]), seq: Number(m[3]) };
}

async function ackedPosition(s: Setup): Promise<{ gtid: string | null; file: string | null; pos: number | null }> {
  const [st] = await q(s.api.databaseUrl, `SELECT acked_lsn FROM source_state WHERE source_id = $1`, [s.sourceId]);
  assert.ok(st?.acked_lsn, `source_state has no acked position for source ${s.sourceId}`);
  return JSON.parse(st.acked_lsn);
}

const snapshotCount = async (s: Setup) =>
  Number(
    (await q(s.api.databaseUrl, `SELECT count(*)::int AS n FROM snapshots WHERE pipeline_id = $1`, [s.pipelineId]))[0]
      .n,
  );

describe(
  'MySQL source failover to a promoted GTID replica',
  {
    skip: process.env.MYSQL_URL
      ? 'MYSQL_URL points at an external MySQL: the drill needs the local primary + replica'
      : false,
  },
  () => {
    let s: Setup;
    const workers: Worker[] = [];

    before(async () => {
      await mariadbStack.resetMariadb();
      await mariadbStack.startService('mariadb');
      await mariadbStack.startService('mariadb-replica');
      s = await setupPipeline({ ddl: MYSQL_EVENTS_DDL, sourceKind: 'mysql', pipeline: { ingestion_mode: 'upsert' } });
      workers.push(spawnWorker(s.api));
    });

    after(async () => {
      await teardown(s, workers);
      // The pair has diverged (old primary stopped behind the promoted replica): back to a fresh,
      // replicating primary + replica, which is what the other MySQL test files expect to find.
      await mariadbStack.resetMariadb();
      await mariadbStack.startService('mariadb-replica');
    });

    test(
      'primary stopped mid-load, replica promoted, host switched by PATCH: ' +
        'resumes from the GTID position, nothing lost or duplicated',
      async () => {
        const ep = mariadbStack.mariadbEndpoints();
        const dbName = new URL(s.srcUrl).pathname.slice(1);
        const replicaUrl = mysqlUrlWithDatabase(ep.mysqlReplicaUrl, dbName);
        const replicaPort = Number(new URL(ep.mysqlReplicaUrl).port);

        // Active first: the initial snapshot (of an empty table) is over, so every record in the topic is a binlog change.
        await waitFor('pipeline Active on the primary', async () => (await status(s)).state === 'Active', 60000);
        await insertRows(s.srcUrl, 'events', 100, (g) => ({ v: g, note: 'seed' }));
        await assertConverges(s, 'events', COLS);

        // Writes in flight when the primary goes away. An application's writer fails when its primary
        // dies and continues on the promoted one: the same here, two writers, one per server.
        const load1 = startLoad(s.srcUrl, 'events', { perSecond: 200 });
        const dstCount = async () => Number((await q(s.dstUrl, 'SELECT count(*)::int AS n FROM events'))[0].n);
        const seeded = await dstCount();
        await waitFor(
          'changes of the write load in the destination',
          async () => load1.ops > 300 && (await dstCount()) > seeded,
          30000,
        );
        // A clean stop that lets the replica receive every binlog event first (MariaDB's SHUTDOWN WAIT
        // FOR ALL SLAVES). A crashed primary can take transactions with it that its replica never got:
        // the database loses them, Sluice then reports position_lost (see the runbook); that is not what
        // this test is about, and a plain SIGTERM made it depend on replication winning the race.
        await mysqlQuery(ep.mysqlUrl, 'SHUTDOWN WAIT FOR ALL SLAVES').catch(() => undefined);
        await mariadbStack.stopService('mariadb');
        const { ops: opsBefore } = await load1.stop();
        assert.ok(opsBefore > 300, `the first writer ran on the primary (${opsBefore} ops)`);

        const broken = await waitFor(
          'Broken while the primary is down',
          async () => {
            const x = await status(s);
            return x.state === 'Broken' ? x : null;
          },
          30000,
        );
        assert.match(String(broken.reason), /source_unreachable/);

        const { gtidPos: promotedAt } = await mariadbStack.promoteReplica();
        // Nothing moves while the source host is down: this is what the source had in Kafka before the switch.
        const beforeSwitch = await ackedPosition(s);
        assert.ok(
          beforeSwitch.gtid,
          `the MariaDB source persisted a GTID position, not only file+pos: ${JSON.stringify(beforeSwitch)}`,
        );
        const b = parseGtid(beforeSwitch.gtid!, 'acked position before the switch');
        const pr = parseGtid(promotedAt, 'promoted replica position');
        assert.equal(b.server, 1, 'the position before the switch comes from the old primary (server_id 1)');
        assert.ok(
          b.domain === pr.domain && b.seq <= pr.seq,
          `the replica holds everything the source read from the old primary (source ${beforeSwitch.gtid}, replica ${promotedAt})`,
        );
        const snapshotsBefore = await snapshotCount(s);

        // The user's half of the runbook: point the source at the new primary, with optimistic concurrency.
        const cur = await s.api.call('GET', `/v1/sources/${s.sourceId}`);
        assert.equal(cur.status, 200, cur.text);
        const stale = await s.api.call(
          'PATCH',
          `/v1/sources/${s.sourceId}`,
          { config: { host: '127.0.0.1', port: replicaPort } },
          { 'If-Match': `"${cur.body.version - 1}"` },
        );
        assert.equal(stale.status, 412, `a PATCH with a stale If-Match must be refused: ${stale.text}`);
        const patched = await s.api.call(
          'PATCH',
          `/v1/sources/${s.sourceId}`,
          { config: { host: '127.0.0.1', port: replicaPort } },
          { 'If-Match': `"${cur.body.version}"` },
        );
        assert.equal(patched.status, 200, patched.text);
        assert.equal(patched.body.config.port, replicaPort);
        assert.equal(patched.body.version, cur.body.version + 1);

        await waitFor('Active on the promoted replica', async () => (await status(s)).state === 'Active', 60000);
        const load2 = startLoad(replicaUrl, 'events', { perSecond: 200 });
        await waitFor('the second writer ran on the promoted replica', async () => load2.ops > 300, 30000);
        const { ops: opsAfter } = await load2.stop();
        assert.ok(opsAfter > 300, `the second writer ran on the promoted replica (${opsAfter} ops)`);
        const [{ pos: lastWrite }] = await mysqlQuery(replicaUrl, 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');

        // The destination equals the surviving truth, the promoted replica: same keys, same values.
        const onReplica: Setup = { ...s, srcUrl: replicaUrl };
        await assertConverges(onReplica, 'events', COLS, { timeoutMs: 90000 });
        const dstRows = await rowsOf(s.dstUrl, 'events', COLS);
        assert.equal(new Set(dstRows.map((r) => r.id)).size, dstRows.length, 'no duplicate keys in the destination');

        // The stored position is a GTID position on the new server that covers its own writes.
        const lw = parseGtid(String(lastWrite), 'replica position after the second writer');
        const acked = await waitFor(
          "the acked position to cover the replica's writes",
          async () => {
            const p = await ackedPosition(s);
            const g = p.gtid ? parseGtid(p.gtid, 'acked position') : null;
            return g && g.server === 2 && g.seq >= lw.seq ? p : null;
          },
          30000,
        );
        const st = await status(s);
        assert.match(
          String(st.source.position),
          /^\d+-2-\d+$/,
          `status.source.position is the GTID position on the promoted replica (server_id 2): ${st.source.position}`,
        );
        assert.ok(parseGtid(acked.gtid!, 'acked').seq > b.seq);

        // Resumed from the GTID position, not from scratch: no snapshot was scheduled after the switch, and
        // every change the source had acknowledged before it is in Kafka exactly once (a restart from the
        // beginning, or a re-snapshot, would have written those again).
        assert.equal(await snapshotCount(s), snapshotsBefore, 'no snapshot after the host switch');
        const records = await topicRecords(`${s.prefix}.${dbName}.events`);
        assert.equal(
          records.filter((r) => r.env.op === 'r').length,
          0,
          'no snapshot reads (op r) in the topic: the table was empty at the initial snapshot',
        );
        const seen = new Map<string, number>();
        let fromOld = 0;
        let fromNew = 0;
        for (const r of records) {
          const gtid = r.env.source?.gtid as string | null;
          assert.ok(gtid, `every change record carries its GTID: ${JSON.stringify(r.env.source)}`);
          const g = parseGtid(gtid, 'record gtid');
          if (g.server === 2) {
            fromNew++;
            continue;
          }
          if (g.seq > b.seq) continue; // read after the last acknowledgement: may legitimately be read twice
          fromOld++;
          const k = `${gtid}|${r.key}|${r.env.op}|${JSON.stringify(r.env.after)}`;
          seen.set(k, (seen.get(k) ?? 0) + 1);
        }
        const dup = [...seen.entries()].filter(([, n]) => n > 1);
        assert.ok(fromOld > 300, `changes read from the old primary before the switch (${fromOld})`);
        assert.ok(fromNew > 300, `changes read from the promoted replica (${fromNew})`);
        assert.deepEqual(
          dup.slice(0, 5),
          [],
          `${dup.length} changes acknowledged before the switch were produced again after it`,
        );
        assert.equal((await status(s)).dlq.count, 0);
      },
    );

    test(
      'a file+position of the old primary is not resumed on the new one: ' +
        'Broken (position_not_portable), and Active again once a GTID position ' +
        'is back',
      async () => {
        // What a server without GTIDs would have left behind: a file+position read from server_id 1 (the
        // stopped primary). This stack's replica has a binlog.000001 too; reading it would be silently wrong.
        const paused = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/pause`);
        assert.ok(paused.status < 300, paused.text);
        await waitFor('Paused', async () => (await status(s)).state === 'Paused', 30000);
        const good = await ackedPosition(s);
        const fileOnly = { gtid: null, file: 'binlog.000001', pos: 4, server_id: 1, server_uuid: null };
        await q(s.api.databaseUrl, `UPDATE source_state SET acked_lsn = $2 WHERE source_id = $1`, [
          s.sourceId,
          JSON.stringify(fileOnly),
        ]);
        const resumed = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/resume`);
        assert.ok(resumed.status < 300, resumed.text);
        const broken = await waitFor(
          'Broken: position_not_portable',
          async () => {
            const x = await status(s);
            return x.state === 'Broken' && /position_not_portable/.test(String(x.reason)) ? x : null;
          },
          30000,
        );
        assert.match(broken.reason, /binlog\.000001:4 was read from server_id 1/);
        assert.match(broken.reason, /now reaches server_id 2/);
        assert.match(broken.reason, /enable GTIDs/);
        assert.deepEqual(await ackedPosition(s), fileOnly, 'the position is left alone while Broken');

        await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/pause`);
        await waitFor('Paused', async () => (await status(s)).state === 'Paused', 30000);
        await q(s.api.databaseUrl, `UPDATE source_state SET acked_lsn = $2 WHERE source_id = $1`, [
          s.sourceId,
          JSON.stringify(good),
        ]);
        await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/resume`);
        await waitFor('Active again from the GTID position', async () => (await status(s)).state === 'Active', 60000);
      },
    );

    test('positionPortability: GTID positions move between servers, file+position only stays on its own server', () => {
      const srv = { server_id: 2, server_uuid: null };
      assert.equal(positionPortability({ gtid: '0-1-9', file: 'binlog.000001', pos: 400, server_id: 1 }, srv), 'gtid');
      assert.equal(
        positionPortability({ gtid: null, file: 'binlog.000001', pos: 400, server_id: 2 }, srv),
        'same_server',
      );
      assert.equal(
        positionPortability({ gtid: null, file: 'binlog.000001', pos: 400, server_id: 1 }, srv),
        'other_server',
      );
      assert.equal(positionPortability({ gtid: null, file: 'binlog.000001', pos: 400 }, srv), 'unknown_server');
      // MySQL: the UUID decides (server_id may be reused by a rebuilt server).
      const my = { server_id: 7, server_uuid: 'b' };
      assert.equal(
        positionPortability({ gtid: null, file: 'f.000002', pos: 4, server_id: 7, server_uuid: 'a' }, my),
        'other_server',
      );
      assert.equal(
        positionPortability({ gtid: null, file: 'f.000002', pos: 4, server_id: 8, server_uuid: 'b' }, my),
        'same_server',
      );
    });
  },
);
