// New tables: created at the source while the pipeline streams, captured without a restart and
// backfilled by an incremental snapshot (snapshot_new_tables), the stream never stopping.
import { test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { newTables } from './scenarios';

for (const row of rowsWith('new_tables')) {
  onRow(row, { workerEnv: { SLUICE_TABLE_DISCOVERY_MS: '1000' } }, (run) => {
    test('a new table is captured while streaming and backfilled; its changes follow', () => newTables(run().s));
  });
}
