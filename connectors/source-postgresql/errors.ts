import { PositionLostError } from '../../core/errors';
import type { SessionFailure } from '../module';

/** The replication slot is missing or invalidated (wal_status lost): changes since its position are gone from the WAL. */
export class SlotLostError extends PositionLostError {
  constructor(message: string) {
    super(message, 'slot_lost');
    this.name = 'SlotLostError';
  }
}

/** How a failed Postgres source session shows (null: the session's default). */
export function classifyPgSourceFailure(err: Error): SessionFailure | null {
  if (err instanceof SlotLostError) {
    return {
      broken: 'slot_lost',
      log:
        'replication slot lost; on_slot_loss=fail keeps the pipeline Broken ' +
        'until the slot is recreated or on_slot_loss=resnapshot',
    };
  }
  if (/replication slot .* is active/i.test(err.message)) return { reason: 'slot_busy' };
  return null;
}
