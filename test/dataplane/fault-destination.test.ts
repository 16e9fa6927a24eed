// Scenario a: the destination Postgres (its own server here, so the control DB stays up) is stopped
// for OUTAGE_MS; changes are buffered in Kafka and delivered after the restart, DLQ empty.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from './harness';
import { PgInstance } from './pg-instance';
import { destinationOutage, EVENTS_DDL } from './scenarios';

let s: Setup;
let dest: PgInstance;
const workers: Worker[] = [];
before(async () => {
  dest = await PgInstance.withDatabase('dst');
  s = await setupPipeline({ ddl: EVENTS_DDL, dstUrl: dest.urlFor('dst') });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); await dest?.destroy(); });

test('a. destination stopped: Broken after the grace period, buffered, delivered after restart, DLQ empty', () => destinationOutage(s, dest));
