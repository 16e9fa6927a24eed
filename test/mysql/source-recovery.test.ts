// MySQL/MariaDB source: b. the MariaDB server stopped (Broken, reconnects by itself, resumes from the
// persisted GTID position) and d. kill -9 of the worker mid-stream and mid-snapshot.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from '../dataplane/harness';
import { MYSQL_BIG_DDL, MYSQL_EVENTS_DDL, sourceOutage, workerKillMidSnapshot, workerKillMidStream } from '../dataplane/scenarios';
import { mariadbStack } from '../mysql-helpers';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({
    ddl: MYSQL_EVENTS_DDL + MYSQL_BIG_DDL,
    sourceKind: 'mysql', source: { snapshot_chunk_size: 500 },
  });
  workers.push(spawnWorker(s.api), spawnWorker(s.api));
});
after(async () => { await mariadbStack.startService('mariadb').catch(() => undefined); await teardown(s, workers); });

test('b. MariaDB stopped: Broken (source_unreachable), reconnects by itself, resumes from the GTID position', () =>
  sourceOutage(s, { stop: () => mariadbStack.stopService('mariadb'), start: () => mariadbStack.startService('mariadb') }));
test('d1. kill -9 mid-stream: another worker takes over within 30 s, nothing lost', () => workerKillMidStream(s, workers));
test('d2. kill -9 mid-snapshot: the snapshot resumes from its last chunk, nothing lost', () => workerKillMidSnapshot(s, workers));
