/**
 * A source's stream position no longer exists on the server (a dropped or invalidated replication
 * slot, a purged binlog). Resuming elsewhere would skip changes silently, so the pipeline turns
 * Broken and says why; only a snapshot can close the gap.
 */
export class PositionLostError extends Error {
  constructor(
    message: string,
    readonly reason = 'position_lost',
  ) {
    super(message);
    this.name = 'PositionLostError';
  }
}
