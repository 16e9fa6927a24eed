// Scenario a, Postgres -> MariaDB: the MariaDB destination (the test stack's primary) is stopped for
// OUTAGE_MS under steady load: Broken (destination_unreachable, not poison records), buffered in
// Kafka, delivered after the restart, DLQ empty, no duplicates.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from '../dataplane/harness';
import { destinationOutage, EVENTS_DDL } from '../dataplane/scenarios';
import { freshMysqlDatabase, mariadbStack, startMariadb } from '../mysql-helpers';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl: EVENTS_DDL, dstUrl: await freshMysqlDatabase('dst_fa'), destinationKind: 'mysql' });
  workers.push(spawnWorker(s.api));
});
after(async () => { await startMariadb().then(() => mariadbStack.startService('mariadb')).catch(() => undefined); await teardown(s, workers); });

test('a. MariaDB destination stopped: Broken after the grace period, buffered, delivered after restart, DLQ empty', () =>
  destinationOutage(s, { stop: () => mariadbStack.stopService('mariadb'), start: () => mariadbStack.startService('mariadb') }));
