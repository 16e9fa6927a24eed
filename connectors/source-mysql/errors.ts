import { PositionLostError } from '../../core/errors';
import type { SessionFailure } from '../module';

/** A file+position persisted on one server while the source now reaches another: resuming would read the wrong binlog. */
export class PositionNotPortableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PositionNotPortableError';
  }
}

/** Server error 1236 (ER_MASTER_FATAL_ERROR_READING_BINLOG): the requested GTID or file is not in the binlog any more. */
export function isPositionLost(e: unknown): boolean {
  const err = e as { errno?: number; message?: string };
  return (
    err?.errno === 1236 ||
    /Could not find (GTID state|first log file)|purged binary logs/i.test(String(err?.message ?? ''))
  );
}

/** How a failed MySQL source session shows (null: the session's default). `where` is host:port, `position` the stored one. */
export function classifyMysqlSourceFailure(err: Error, where: string, position: string | null): SessionFailure | null {
  if (err instanceof PositionNotPortableError)
    return { broken: err.message, log: 'binlog position belongs to another server' };
  // A purged position: resuming elsewhere would skip changes silently, so the pipeline stays Broken and says so.
  if (err instanceof PositionLostError || isPositionLost(err)) {
    return {
      broken:
        `position_lost: ${where} does not hold position ${position} in its binlog (${err.message}): ` +
        ('either the binlog was purged (raise binlog_expire_logs_seconds) or, ' +
          'after a failover, this server never received the transactions the ' +
          'source already read from the old primary ') +
        ('(promote the replica that is furthest ahead, or point the source ' +
          'back). Recreate the source to take a fresh snapshot if neither applies'),
      log: 'binlog position lost',
    };
  }
  return null;
}
