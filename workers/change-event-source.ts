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

/**
 * snapshot_mode `initial_only`: snapshot every captured table once, then stream no more (a one-off
 * copy or a backfill). The stream still runs while the snapshot does, because the snapshot's
 * watermarks travel in it. Once the pipeline has a finished initial snapshot and no other pending,
 * the session flushes and acknowledges what it read and ends, and the source releases its position
 * (Postgres drops the slot so the server keeps no WAL for it). A source_state row whose
 * `slot_established_at` is NULL records the release: later starts stream nothing, and a source
 * switched to `initial` afterwards starts afresh (new position, new initial snapshot).
 */
export const initialOnly = {
  /** True when this source already completed its initial_only snapshot and released its position. */
  async released(control: Queryable, sourceId: string): Promise<boolean> {
    const r = await control.query(`SELECT 1 FROM source_state WHERE source_id = $1 AND slot_established_at IS NULL`, [sourceId]);
    return r.length > 0;
  },
  /** True when the pipeline's initial snapshot is done and no snapshot is pending or running. */
  async snapshotDone(control: Queryable, pipelineId: string): Promise<boolean> {
    const r = await control.query(
      `SELECT count(*) FILTER (WHERE reason = 'initial' AND status = 'done')::int AS done, count(*) FILTER (WHERE status IN ('pending','running'))::int AS open
       FROM snapshots WHERE pipeline_id = $1`, [pipelineId]);
    return r[0].done > 0 && r[0].open === 0;
  },
  async release(control: Queryable, sourceId: string): Promise<void> {
    await control.query(`UPDATE source_state SET slot_established_at = NULL, updated_at = now() WHERE source_id = $1`, [sourceId]);
  },
  /**
   * While a session of an initial_only source streams: aborts the session once the initial snapshot
   * is done; `completing()` then tells the session to drain everything and release its position.
   */
  watch(control: Queryable, pipelineId: string, snapshotActive: () => boolean, session: AbortController): { timer: NodeJS.Timeout; completing: () => boolean } {
    let completing = false;
    const timer = setInterval(async () => {
      if (completing || snapshotActive()) return;
      if (await initialOnly.snapshotDone(control, pipelineId).catch(() => false)) { completing = true; session.abort(); }
    }, 1000);
    return { timer, completing: () => completing };
  },
  /** A released source: reports it and waits for the runner to stop (the sink keeps delivering). */
  async idle(status: SourceStatus, signal: AbortSignal): Promise<void> {
    status.state = 'stopped';
    status.reason = INITIAL_ONLY_DONE;
    status.broken_since = null;
    await new Promise<void>((resolve) => { if (signal.aborted) resolve(); else signal.addEventListener('abort', () => resolve(), { once: true }); });
  },
};
export const INITIAL_ONLY_DONE = 'snapshot_complete: snapshot_mode initial_only streams no changes after the initial snapshot';
interface Queryable { query(sql: string, params?: unknown[]): Promise<any[]> }

/**
 * A session is closing: flush what was read and acknowledge it, unless Kafka is the problem (then
 * only while the runner is stopping, for up to 10 s). An initial_only source completing waits for
 * everything, since its position is released afterwards.
 */
export async function drainOnClose(buffer: { drain(): Promise<void> }, completing: boolean, runner: AbortSignal): Promise<void> {
  await Promise.race([buffer.drain(), completing ? sleep(0x7fffffff, runner) : sleep(runner.aborted ? 10000 : 0)]);
}
