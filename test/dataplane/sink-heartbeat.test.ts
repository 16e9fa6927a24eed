// A destination write longer than the consumer's session timeout (a slow destination, or a slice
// written record by record around a rejected one on a loaded machine) must not cost the sink its
// consumer-group membership. Found by `npm run test:repeat` (source-faults f, MariaDB -> Postgres):
// the sink was evicted while eachBatch waited for the write, the offset commit failed, and the slice
// was read and written again. Real Kafka; the destination is a fake whose first write takes 10 s.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep, waitFor } from './harness';
import { sinkOnFakeDestination } from './sink-fixture';

test('a write longer than the session timeout: the sink stays in its group, every record is written once', async () => {
  // The broker's smallest allowed session timeout (group.min.session.timeout.ms), read when the sink starts.
  process.env.SLUICE_CONSUMER_SESSION_TIMEOUT_MS = '6000';
  let first = true;
  // Two slices of 10 per fetched batch: eachBatch waits for the first slice's write before the second.
  const f = await sinkOnFakeDestination({
    batchSize: 10,
    write: async () => {
      if (first) {
        first = false;
        await sleep(10_000);
      }
    },
  });
  try {
    await f.produce(20);
    await waitFor('offset 20 committed', async () => (await f.committed()) === 20, 60_000, 500);
    await sleep(2000); // a restarted consumer would be writing the first slice again by now
  } finally {
    await f.close();
  }
  assert.deepEqual(
    f.written,
    Array.from({ length: 20 }, (_, i) => String(i)),
    'each record written once, in order',
  );
});
