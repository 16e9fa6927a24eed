// Scenario d: kill -9 of the worker that holds the pipeline, mid-stream and mid-snapshot: the other
// worker takes over within 30 s, the snapshot resumes from its last chunk, nothing is lost.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from './harness';
import { BIG_DDL, EVENTS_DDL, workerKillMidSnapshot, workerKillMidStream } from './scenarios';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl: EVENTS_DDL + BIG_DDL, source: { snapshot_chunk_size: 500 } });
  workers.push(spawnWorker(s.api), spawnWorker(s.api));
});
after(async () => { await teardown(s, workers); });

test('d1. kill -9 mid-stream: another worker takes over within 30 s, nothing lost', () => workerKillMidStream(s, workers));
test('d2. kill -9 mid-snapshot: the snapshot resumes from its last chunk, nothing lost', () => workerKillMidSnapshot(s, workers));
