// test-lane: exclusive (stops the stack MariaDB (the MySQL source row); test/run.sh runs it alone)
// b. The source database is stopped: Broken (source_unreachable), reconnects by itself, resumes
// from the acknowledged position, nothing lost.
import { test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { sourceOutage } from './scenarios';

for (const row of rowsWith('b')) {
  onRow(row, { stoppable: 'source' }, (run) => {
    test('b. source stopped: Broken, reconnects by itself, resumes from the acknowledged position', () =>
      sourceOutage(run().s, run().src.outage!));
  });
}
