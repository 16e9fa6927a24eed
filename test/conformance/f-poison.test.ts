// f. Poison records: rows the destination rejects (a constraint the source does not have) and
// records a transform rejects (a throw, a CPU-limit overrun in the sandbox) go to the DLQ after
// max_retries while the rest flows; after the fix, replay delivers them.
import { test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { POISON_TRANSFORM, poisonAndReplay } from './scenarios';

for (const row of rowsWith('f')) {
  let rejection: Awaited<ReturnType<typeof row.destination.rejectNegative>>;
  onRow(
    row,
    {
      transforms: [POISON_TRANSFORM],
      pipeline: { delivery: { max_retries: 3, backoff_initial_ms: 50, backoff_max_ms: 200 } },
      prepare: async ({ dst }) => {
        rejection = await row.destination.rejectNegative(dst.url);
      },
    },
    (run) => {
      test('f. poison records: DLQ after max_retries, the rest flows, replay after the fix delivers them', () =>
        poisonAndReplay(run().s, rejection));
    },
  );
}
