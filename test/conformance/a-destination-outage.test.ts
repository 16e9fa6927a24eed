// test-lane: exclusive (stops the stack's MariaDB and Elasticsearch (their destination rows); test/run.sh runs it alone)
// a. The destination is stopped for OUTAGE_MS under steady load: Broken (destination_unreachable)
// after the grace period, changes buffered in Kafka, delivered after the restart, DLQ empty.
import { test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { destinationOutage } from './scenarios';

for (const row of rowsWith('a')) {
  onRow(row, { stoppable: 'destination' }, (run) => {
    test('a. destination stopped: Broken after the grace period, buffered, delivered after restart, DLQ empty', () =>
      destinationOutage(run().s, run().dst.outage!));
  });
}
