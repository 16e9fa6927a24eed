// Scenario d, Postgres -> MariaDB: kill -9 of the worker holding the pipeline, mid-stream and
// mid-snapshot: the other worker takes over, the snapshot resumes from its last chunk, nothing lost.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from '../dataplane/harness';
import { BIG_DDL, EVENTS_DDL, workerKillMidSnapshot, workerKillMidStream } from '../dataplane/scenarios';
import { freshMysqlDatabase } from '../mysql-helpers';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl: EVENTS_DDL + BIG_DDL, source: { snapshot_chunk_size: 500 }, dstUrl: await freshMysqlDatabase('dst_fd'), destinationKind: 'mysql' });
  workers.push(spawnWorker(s.api), spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('d1. kill -9 mid-stream (Postgres -> MariaDB): another worker takes over within 30 s, nothing lost', () => workerKillMidStream(s, workers));
test('d2. kill -9 mid-snapshot (Postgres -> MariaDB): the snapshot resumes from its last chunk, nothing lost', () => workerKillMidSnapshot(s, workers, 30000));
