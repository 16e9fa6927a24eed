// test-lane: exclusive (purges the stack MariaDB's binary logs, which other MariaDB sources read)
// Scenario g with a MariaDB source: the binlog holding the source's persisted GTID position is purged
// while no runner reads it (the MariaDB counterpart of a dropped Postgres slot). The pipeline turns
// Broken with reason position_lost and stays so: it never resumes at a later position, which would
// skip the purged changes silently (docs/dataplane.md, "Position lost").
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertConverges,
  q,
  setupPipeline,
  Setup,
  sleep,
  spawnWorker,
  status,
  stopWorker,
  teardown,
  waitFor,
  Worker,
  waitActive,
} from '../dataplane/harness';
import { COLS, insertRows, MYSQL_EVENTS_DDL } from '../conformance/scenarios';
import { isPositionLost } from '../../connectors/source-mysql/errors';
import type { BinlogPosition } from '../../connectors/source-mysql/position';
import { directMysqlSource, ignoringDispatcher } from './direct-source';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl: MYSQL_EVENTS_DDL, sourceKind: 'mysql' });
  workers.push(spawnWorker(s.api));
});
after(async () => {
  await teardown(s, workers);
});

test(
  'g. binlog purged past the persisted GTID position: Broken ' + '(position_lost), nothing skipped silently',
  async () => {
    await insertRows(s.srcUrl, 'events', 100, (g) => ({ v: g, note: 'seed' }));
    await assertConverges(s, 'events', COLS);
    await waitActive(s);
    const stored = (await status(s)).source.position as string;
    // The runner stops cleanly (position persisted); changes made after it, then their binlog is purged.
    await stopWorker(workers[0], 'SIGTERM');
    await insertRows(s.srcUrl, 'events', 50, (g) => ({ v: 1000 + g, note: 'gap' }));
    // MariaDB keeps a binlog a reader still has open (a killed worker's dump thread lingers until the
    // server writes to its dead connection): flush and purge until only the newest file is left.
    const logs = async () => (await q(s.srcUrl, 'SHOW BINARY LOGS')).map((l: any) => String(l.Log_name));
    await waitFor(
      'older binlogs purged',
      async () => {
        await q(s.srcUrl, 'FLUSH BINARY LOGS');
        const active = (await logs()).pop();
        await q(s.srcUrl, `PURGE BINARY LOGS TO '${active}'`);
        return (await logs()).length === 1;
      },
      30000,
      1000,
    );

    await streamRefuses(stored);

    workers.push(spawnWorker(s.api));
    let last: any = null;
    const lost = async () => {
      last = await status(s);
      return last.state === 'Broken' && /position_lost/.test(last.reason) ? last : null;
    };
    const st = await waitFor('Broken (position_lost)', lost, 60000).catch((e) => {
      throw new Error(`${e.message}; last status ${JSON.stringify(last)}`);
    });
    assert.match(st.reason, /binlog_expire_logs_seconds/, 'the reason says what to change');
    // It stays Broken, also after a restart, and delivers nothing of what came after the lost position.
    await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (7, 'after the purge')`);
    assert.equal((await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/restart`)).status, 202);
    await sleep(8000);
    const later = await status(s);
    assert.equal(later.state, 'Broken', JSON.stringify(later));
    assert.match(later.reason, /position_lost/);
    assert.equal(
      Number((await q(s.dstUrl, 'SELECT count(*) AS n FROM events'))[0].n),
      100,
      'the destination holds the seed only',
    );
  },
);

/**
 * The connector alone: streaming from the purged GTID position fails at once with the server's answer.
 * A stream that started and failed a moment later showed the pipeline Active between two retries
 * (repeat round 9: Active 8 s after a restart).
 */
async function streamRefuses(gtid: string) {
  const c = directMysqlSource(s.srcUrl, s.pipelineId);
  const abort = new AbortController();
  const ignore = () => undefined;
  try {
    await c.open(ignore);
    const events = ignoringDispatcher<BinlogPosition>();
    await assert.rejects(
      c.stream({ position: { gtid, file: null, pos: null }, seq: 0n, fresh: null }, events, {
        fail: ignore,
        signal: abort.signal,
      }),
      (e: Error) => isPositionLost(e),
      'stream() rejects a purged position instead of resolving',
    );
  } finally {
    abort.abort();
    await c.close();
  }
}
