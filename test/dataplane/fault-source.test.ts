// Scenario b: the source Postgres (its own server here, so the control DB stays up) is stopped:
// the pipeline turns Broken, reconnects by itself and resumes from the acknowledged LSN.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from './harness';
import { PgInstance } from './pg-instance';
import { EVENTS_DDL, sourceOutage } from './scenarios';

let s: Setup;
let src: PgInstance;
const workers: Worker[] = [];
before(async () => {
  src = await PgInstance.withDatabase('src');
  s = await setupPipeline({ ddl: EVENTS_DDL, srcUrl: src.urlFor('src') });
  workers.push(spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); await src?.destroy(); });

test('b. source stopped: Broken, reconnects by itself, resumes from the acknowledged LSN', () => sourceOutage(s, src));
