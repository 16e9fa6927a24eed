// d. kill -9 of the worker holding the pipeline, mid-stream (d1) and mid-snapshot (d2): another
// worker takes over within 30 s; a snapshot resumes from its last chunk; nothing lost.
import { test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { workerKillMidSnapshot, workerKillMidStream } from './scenarios';

for (const row of rowsWith('d')) {
  onRow(row, { tables: ['events', 'big'], workers: 2, source: { snapshot_chunk_size: 500 } }, (run) => {
    test('d1. kill -9 mid-stream: another worker takes over within 30 s, nothing lost', () =>
      workerKillMidStream(run().s, run().workers));
    // d2 re-snapshots a table it first empties at the destination: only kinds whose kit can empty one.
    if (row.destination.truncate)
      test('d2. kill -9 mid-snapshot: the snapshot resumes from its last chunk, nothing lost', () =>
        workerKillMidSnapshot(run().s, run().workers, row.destination, 30000));
  });
}
