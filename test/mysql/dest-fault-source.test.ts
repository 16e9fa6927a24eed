// Scenario b, Postgres -> MariaDB: the source Postgres (its own server) is stopped: Broken,
// reconnects by itself, resumes from the acknowledged LSN; MariaDB equals the source.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from '../dataplane/harness';
import { PgInstance } from '../dataplane/pg-instance';
import { EVENTS_DDL, sourceOutage } from '../dataplane/scenarios';
import { freshMysqlDatabase } from '../mysql-helpers';

let s: Setup;
let src: PgInstance;
const workers: Worker[] = [];
before(async () => {
  src = await PgInstance.withDatabase('src');
  s = await setupPipeline({ ddl: EVENTS_DDL, srcUrl: src.urlFor('src'), dstUrl: await freshMysqlDatabase('dst_fb'), destinationKind: 'mysql' });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); await src?.destroy(); });

test('b. source Postgres stopped: Broken, reconnects, resumes from the acknowledged LSN into MariaDB', () => sourceOutage(s, src));
