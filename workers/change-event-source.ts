import { Admin, ConfigResourceTypes } from 'kafkajs';
import { Logger } from 'pino';
import { ColumnInfo } from './envelope';
import { backoff, sleep } from './pgconn';

/** What the pipeline runner needs from a change-event source, whatever database it reads. */
export interface ChangeEventSource {
  /** Resolves once the tables are known and the stream position is established. */
  ready: Promise<void>;
  tables: TableInfo[];
  status: SourceStatus;
  snapshotActive: boolean;
  /** Runs until the signal aborts: reconnects by itself after any failure. */
  run(): Promise<void>;
}

/** A captured table. `schema` is the Postgres schema or the MySQL database; `oid` is 0 for MySQL. */
export interface TableInfo { schema: string; table: string; oid: number; columns: ColumnInfo[]; topic: string }

export interface SourceStatus {
  state: 'starting' | 'snapshotting' | 'streaming' | 'broken' | 'stopped';
  reason: string | null;
  position: string | null;
  last_event_at: string | null;
  replication_lag_bytes: number | null;
  broken_since?: number | null;
}

export const newSourceStatus = (): SourceStatus => ({ state: 'starting', reason: null, position: null, last_event_at: null, replication_lag_bytes: null, broken_since: null });

/** Topics accept record batches this large, so one produce request carries thousands of events. */
export const TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** table_include / table_exclude: regular expressions matched against the whole `schema.table`. */
export function tableFilter(include: string[] | undefined, exclude: string[] | undefined): (name: string) => boolean {
  const full = (re: string) => new RegExp('^(?:' + re + ')$');
  const inc = (include ?? []).map(full);
  const exc = (exclude ?? []).map(full);
  return (name) => (!inc.length || inc.some((x) => x.test(name))) && !exc.some((x) => x.test(name));
}

/** Creates the missing topics of the captured tables and raises max.message.bytes of existing ones. */
export async function ensureTopics(admin: Admin, topics: string[], partitions: number, log: Logger): Promise<void> {
  const existing = new Set(await admin.listTopics());
  // Topics made by an older build (or by hand) get the batch size we produce with.
  const old = topics.filter((t) => existing.has(t));
  if (old.length) {
    await admin.alterConfigs({ validateOnly: false, resources: old.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }] })) })
      .catch((e) => log.warn({ err: (e as Error).message }, 'could not raise max.message.bytes of existing topics; produce requests may be rejected'));
  }
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length) {
    await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: -1, configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }] })) }).catch((e) => {
      if (!/exists/i.test(String(e?.message))) throw e;
    });
  }
}

/** How a source session ended: `broken` (stays Broken at once, e.g. slot_lost) or a transient `reason`. */
export type SessionFailure = { broken: string; log: string } | { reason: string };

/**
 * A source's run loop: runs sessions until the signal aborts and rebuilds them after any failure
 * with backoff, from the acknowledged position (each session reads it afresh).
 */
export async function runSessions(o: { signal: AbortSignal; status: SourceStatus; graceMs: number; log: Logger; session: () => Promise<void>; classify: (err: Error) => SessionFailure }): Promise<void> {
  let attempt = 0;
  while (!o.signal.aborted) {
    try {
      await o.session();
      attempt = 0;
    } catch (e) {
      if (o.signal.aborted) break;
      attempt++;
      const err = e as Error;
      const f = o.classify(err);
      if ('broken' in f) {
        setBroken(o.status, f.broken);
        o.log.error({ err: err.message }, f.log);
        await sleep(5000, o.signal);
        continue;
      }
      noteSessionFailure(o.status, o.graceMs, `${f.reason}: ${err.message}`);
      o.log.warn({ err: err.message, attempt }, 'source session failed; retrying from the acknowledged position');
      await sleep(backoff(attempt, 500, 5000), o.signal);
    }
  }
  o.status.state = 'stopped';
}

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
