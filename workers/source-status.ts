/** A source's state as the pipeline runner reports it (status endpoint, console, alerts). */
export interface SourceStatus {
  state: 'starting' | 'snapshotting' | 'streaming' | 'broken' | 'stopped';
  reason: string | null;
  position: string | null;
  last_event_at: string | null;
  replication_lag_bytes: number | null;
  broken_since?: number | null;
}

export const newSourceStatus = (): SourceStatus => ({
  state: 'starting',
  reason: null,
  position: null,
  last_event_at: null,
  replication_lag_bytes: null,
  broken_since: null,
});

/** Brief blips are not "Broken": the state flips only after the grace period. */
export function noteSessionFailure(status: SourceStatus, graceMs: number, reason: string) {
  if (status.broken_since == null) status.broken_since = Date.now();
  if (Date.now() - (status.broken_since ?? 0) >= graceMs) status.state = 'broken';
  status.reason = reason;
}

export function setBroken(status: SourceStatus, reason: string) {
  if (status.state !== 'broken') status.broken_since = Date.now();
  status.state = 'broken';
  status.reason = reason;
}
