// Ordering: an update storm on the same keys arrives in commit order per key, the last one wins.
import { test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { updateStorm } from './scenarios';

for (const row of rowsWith('storm')) {
  onRow(row, { tables: [], extraDdl: 'CREATE TABLE storm (id int PRIMARY KEY, seq int NOT NULL);' }, (run) => {
    test('update storm on the same keys arrives in commit order per key', () => updateStorm(run().s));
  });
}
