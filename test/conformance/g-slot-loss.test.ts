// g. The replication slot is dropped. With on_slot_loss=fail the pipeline turns Broken with
// reason slot_lost; switched to resnapshot, the slot is recreated and a snapshot closes the gap
// (rows deleted while no slot existed are deleted downstream); a second loss heals by itself.
import { test } from 'node:test';
import { q, waitFor } from '../dataplane/harness';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { slotLoss } from './scenarios';

for (const row of rowsWith('g')) {
  onRow(row, { source: { on_slot_loss: 'fail' } }, (run) => {
    test('g. slot dropped: detected as slot_lost; resnapshot recreates the slot and closes the gap', () =>
      slotLoss(run().s, async () => {
        const s = run().s;
        await waitFor(
          'slot dropped',
          async () => {
            await q(
              s.srcUrl,
              'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots ' +
                'WHERE slot_name = $1 AND active_pid IS NOT NULL',
              [s.slot],
            );
            try {
              await q(s.srcUrl, `SELECT pg_drop_replication_slot($1)`, [s.slot]);
              return true;
            } catch (e) {
              return /does not exist/.test((e as Error).message);
            }
          },
          20000,
          50,
        );
      }));
  });
}
