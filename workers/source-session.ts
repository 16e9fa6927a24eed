import type { Admin, Kafka, Producer } from 'kafkajs';
import { kafkajs } from '../patches';
import { Logger } from 'pino';
import { Envelope, kafkaKey } from '../core/change-event';
import { PositionLostError } from '../core/errors';
import { topicFor } from '../core/names';
import { backoff, sleep } from '../core/retry';
import type {
  ChangeStream,
  EventDispatcher,
  OffsetStore,
  SessionFailure,
  SourceConnector,
  SourceModule,
  TableInfo,
} from '../connectors/module';
import { ChangeEventBuffer } from './change-event-buffer';
import type { ControlDb } from './control-db';
import { IncrementalSnapshotter, scheduleSnapshot } from './incremental-snapshot';
import { metrics } from './metrics';
import { newSourceStatus, noteSessionFailure, setBroken, SourceStatus } from './source-status';
import { liveKeys } from './topic-keys';

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

export interface SourceSessionOpts {
  pipelineId: string;
  sourceId: string;
  /** The source's config, secrets decrypted. Every source kind has topic_prefix, snapshot_mode, heartbeat_interval_ms, snapshot_chunk_size. */
  cfg: Record<string, any>;
  producer: Producer;
  admin: Admin;
  /** Reads the table topics' live keys after a replication gap (gap deletes). */
  kafka?: Kafka;
  control: ControlDb;
  log: Logger;
  signal: AbortSignal;
  graceMs: number;
  partitions: number;
  /** Backfill tables that start to be captured while streaming (the pipeline's snapshot_new_tables). */
  snapshotNewTables?: boolean;
  /** Tables that started to be captured while streaming (their topics exist already). */
  onNewTables?: (tables: TableInfo[]) => void;
}

/** How often a streaming source looks for new tables its include rules match. */
const DISCOVERY_MS = Math.max(500, Number(process.env.SLUICE_TABLE_DISCOVERY_MS ?? 5000));

/** Topics accept record batches this large, so one produce request carries thousands of events. */
export const TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/**
 * The one session loop of every source kind: open the source, resolve its tables and their topics,
 * find the start position (scheduling the snapshot its snapshot_mode or a lost position asks for),
 * stream into the transaction buffer, emit heartbeats, probe the lag, run incremental snapshots,
 * drain and acknowledge on close, and rebuild the session with backoff after any failure, from the
 * acknowledged position. A source kind supplies only what differs (connectors/module.ts,
 * SourceConnector): its connection, catalog, position, stream decoding and snapshot reader.
 * A position is acknowledged to the source only after Kafka acknowledged every event up to it.
 */
export class SourceSession<P> implements ChangeEventSource {
  status: SourceStatus = newSourceStatus();
  tables: TableInfo[] = [];
  ready: Promise<void>;
  private readyResolve!: () => void;
  private readonly connector: SourceConnector<P>;
  private readonly buffer: ChangeEventBuffer<P>;
  private readonly snapshots: IncrementalSnapshotter;
  private readonly topics = new Map<string, string>();

  constructor(
    private readonly module: SourceModule<P>,
    private readonly o: SourceSessionOpts,
  ) {
    this.ready = new Promise((r) => {
      this.readyResolve = r;
    });
    this.connector = module.connector({
      pipelineId: o.pipelineId,
      sourceId: o.sourceId,
      cfg: o.cfg,
      offsets: offsetStore(o.control, o.sourceId),
      log: o.log,
    });
    this.buffer = new ChangeEventBuffer<P>({
      producer: o.producer,
      log: o.log,
      graceMs: o.graceMs,
      signal: o.signal,
      status: this.status,
      snapshotActive: () => this.snapshotActive,
      onAck: async (pos) => {
        this.status.position = module.positionText(pos);
        // Never throws: a failed acknowledgement only means the source re-reads more after a restart.
        await this.connector
          .acknowledge(pos)
          .catch((e) => o.log.warn({ err: (e as Error).message }, 'could not acknowledge the source position'));
      },
    });
    this.snapshots = new IncrementalSnapshotter({
      pipelineId: o.pipelineId,
      control: o.control,
      log: o.log,
      status: this.status,
      buffer: this.buffer as ChangeEventBuffer<unknown>,
      chunkSize: () => o.cfg.snapshot_chunk_size,
      tables: () => this.tables,
      topicPrefix: o.cfg.topic_prefix,
      openReader: () => this.connector.openSnapshotReader(),
      liveKeys: o.kafka ? (t, signal) => liveKeys(o.kafka!, o.admin, t.topic, signal) : undefined,
      sourceInfo: (schema, table, now) => this.connector.snapshotSource(schema, table, now),
    });
  }

  get snapshotActive(): boolean {
    return this.snapshots.active;
  }

  /** Runs sessions until the signal aborts, rebuilding them after any failure with backoff. */
  async run(): Promise<void> {
    const o = this.o;
    let attempt = 0;
    while (!o.signal.aborted) {
      try {
        await this.session();
        attempt = 0;
      } catch (e) {
        if (o.signal.aborted) break;
        attempt++;
        const err = e as Error;
        const f: SessionFailure = this.connector.classify(err) ?? {
          reason: this.module.isConnectionError(err) ? 'source_unreachable' : 'source_error',
        };
        if ('broken' in f) {
          setBroken(this.status, f.broken);
          o.log.error({ err: err.message }, f.log);
          await sleep(5000, o.signal);
          continue;
        }
        noteSessionFailure(this.status, o.graceMs, `${f.reason}: ${err.message}`);
        o.log.warn({ err: err.message, attempt }, 'source session failed; retrying from the acknowledged position');
        await sleep(backoff(attempt, 500, 5000), o.signal);
      }
    }
    this.status.state = 'stopped';
  }

  private async session(): Promise<void> {
    const { o, connector: c } = this;
    const cfg = o.cfg;
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    o.signal.addEventListener('abort', onAbort, { once: true });
    let fatal: Error | null = null;
    const fail = (e: Error) => {
      fatal = fatal ?? e;
      abort.abort();
    };
    const timers: NodeJS.Timeout[] = [];
    let stream: ChangeStream | null = null;
    try {
      await c.open(fail);
      this.tables = await c.tables();
      await ensureTopics(
        o.admin,
        this.tables.map((t) => t.topic),
        o.partitions,
        o.log,
      );
      if (cfg.snapshot_mode === 'initial_only' && (await initialOnly.released(o.control, o.sourceId))) {
        await c.afterRelease?.();
        this.readyResolve();
        await initialOnly.idle(this.status, abort.signal);
        return;
      }
      const start = await c.startPosition();
      // A new position streams every later change: a snapshot closes the rest (the initial one, or the gap of a lost one).
      if (
        start.fresh === 'lost' ||
        (start.fresh === 'new' && (cfg.snapshot_mode === 'initial' || cfg.snapshot_mode === 'initial_only'))
      ) {
        await scheduleSnapshot(o.control, o.pipelineId, this.tables, start.fresh === 'lost' ? 'slot_lost' : 'initial');
      }
      this.buffer.reset(start.seq);
      this.status.position = this.module.positionText(start.position);
      this.readyResolve();

      stream = await c.stream(start, this.dispatcher(), { fail, signal: abort.signal });
      const flusher = this.buffer.flushLoop(abort.signal);
      this.status.state = this.snapshotActive ? 'snapshotting' : 'streaming';
      this.status.reason = null;
      this.status.broken_since = null;
      o.log.info(
        { position: this.status.position, tables: this.tables.map((t) => `${t.schema}.${t.table}`) },
        'source streaming',
      );

      // Heartbeats keep the position moving while captured tables are idle (a slot pins WAL otherwise).
      if (cfg.heartbeat_interval_ms > 0)
        timers.push(
          setInterval(() => {
            c.heartbeat().catch(() => undefined);
          }, cfg.heartbeat_interval_ms),
        );
      // A stalled connection sends nothing, not even keepalives: give up on it and reconnect.
      const idleMs = c.idleTimeoutMs();
      const s = stream;
      if (idleMs) {
        timers.push(
          setInterval(
            () => {
              if (Date.now() - s.lastSeen() > idleMs)
                fail(Object.assign(new Error(`change stream idle for ${idleMs} ms`), { code: 'ETIMEDOUT' }));
            },
            Math.max(1000, Math.floor(idleMs / 4)),
          ),
        );
      }
      // The lag probe also detects a lost position (slot dropped or invalidated).
      let probing = false;
      timers.push(
        setInterval(async () => {
          if (probing) return;
          probing = true;
          try {
            this.status.replication_lag_bytes = await c.lag();
          } catch (e) {
            if (e instanceof PositionLostError) fail(e);
          } finally {
            probing = false;
          }
        }, 1000),
      );
      if (c.discover) {
        let discovering = false;
        timers.push(
          setInterval(async () => {
            if (discovering) return;
            discovering = true;
            try {
              await this.discoverTables(c);
            } catch (e) {
              o.log.warn({ err: (e as Error).message }, 'looking for new tables failed; will try again');
            } finally {
              discovering = false;
            }
          }, DISCOVERY_MS),
        );
      }
      this.snapshots.start(abort.signal);
      const initial =
        cfg.snapshot_mode === 'initial_only'
          ? initialOnly.watch(o.control, o.pipelineId, () => this.snapshots.active, abort)
          : null;
      if (initial) timers.push(initial.timer);

      await new Promise<void>((resolve) => {
        if (abort.signal.aborted) resolve();
        else abort.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      for (const t of timers) clearInterval(t);
      // Shutting down: flush what was read (and acknowledge it) before closing, unless Kafka is the problem.
      // initial_only completing: everything must be in Kafka and acknowledged before the position goes.
      const completing = initial?.completing() ?? false;
      await drainOnClose(this.buffer, completing, o.signal);
      await stream.stop();
      await Promise.race([flusher, sleep(5000)]);
      this.snapshots.failAll(new Error('source session ended'));
      if (fatal) throw fatal;
      if (completing && !o.signal.aborted && this.buffer.pendingMessages === 0) {
        // Recorded first: a crash before the connector gives its position up leaves one that the next
        // start cleans up (afterRelease), never a recorded position that vanished (read as lost).
        await initialOnly.release(o.control, o.sourceId);
        await c.release();
        o.log.info(
          'initial_only: initial snapshot delivered to Kafka; the source ' +
            'position is released and no changes are streamed from now on',
        );
      }
    } catch (e) {
      // A failure reported through fail() is the cause; what it aborted (a start awaiting) only follows.
      throw fatal ?? e;
    } finally {
      for (const t of timers) clearInterval(t);
      o.signal.removeEventListener('abort', onAbort);
      this.buffer.clear();
      await stream?.stop().catch(() => undefined);
      await c.close();
    }
  }

  /** New tables at the source: their topics, a snapshot when the pipeline backfills new tables, and the sink told. */
  private async discoverTables(c: SourceConnector<P>): Promise<void> {
    const o = this.o;
    const known = new Set(this.tables.map((t) => `${t.schema}.${t.table}`));
    const added = (await c.discover!()).filter((t) => !known.has(`${t.schema}.${t.table}`));
    if (!added.length) return;
    await ensureTopics(
      o.admin,
      added.map((t) => t.topic),
      o.partitions,
      o.log,
    );
    this.tables = [...this.tables, ...added];
    if (o.snapshotNewTables) await scheduleSnapshot(o.control, o.pipelineId, added, 'new_table');
    o.log.info(
      { tables: added.map((t) => `${t.schema}.${t.table}`), snapshot: !!o.snapshotNewTables },
      'new tables captured',
    );
    o.onNewTables?.(added);
  }

  /** Where the connector's decoded events go. */
  private dispatcher(): EventDispatcher<P> {
    const { o } = this;
    const pipeline = { pipeline: o.pipelineId };
    return {
      change: (env: Envelope) => {
        const { schema, table } = env.source;
        this.buffer.push(this.topicOf(schema, table), kafkaKey(env.columns, env.after ?? env.before), env);
        this.status.last_event_at = new Date(env.ts_ms).toISOString();
        if (env.op === 't') return;
        metrics.eventsIn.inc(pipeline);
        // Any change inside an open snapshot window invalidates that key's chunk row.
        this.snapshots.noteChange(schema, table, env.columns, env.before, env.after);
      },
      commit: (seq, pos) => this.buffer.commit(seq, pos),
      watermark: (id, kind, nextSeq) => this.snapshots.onWatermark(id, kind, nextSeq),
      alive: () => {
        this.status.last_event_at = new Date().toISOString();
      },
      room: () => this.buffer.room(),
    };
  }

  private topicOf(schema: string, table: string): string {
    const k = `${schema}\u0000${table}`;
    let t = this.topics.get(k);
    if (t === undefined) {
      t = topicFor(this.o.cfg.topic_prefix, schema, table);
      this.topics.set(k, t);
    }
    return t;
  }
}

/** A source's position record: the control DB's source_state row. */
function offsetStore(control: ControlDb, sourceId: string): OffsetStore {
  return {
    async load() {
      const r = await control.query(
        `SELECT slot_name, slot_established_at, acked_lsn FROM source_state WHERE source_id = $1`,
        [sourceId],
      );
      return r.length
        ? { slot: r[0].slot_name ?? null, established: !!r[0].slot_established_at, position: r[0].acked_lsn ?? null }
        : null;
    },
    async establish(slot, position) {
      await control.query(
        `INSERT INTO source_state (source_id, slot_name, slot_established_at, acked_lsn) VALUES ($1, $2, now(), $3)
         ON CONFLICT (source_id) DO UPDATE SET slot_name = EXCLUDED.slot_name, slot_established_at = now(), acked_lsn = EXCLUDED.acked_lsn, updated_at = now()`,
        [sourceId, slot, position],
      );
    },
    async save(position) {
      await control.query(`UPDATE source_state SET acked_lsn = $2, updated_at = now() WHERE source_id = $1`, [
        sourceId,
        position,
      ]);
    },
  };
}

/** Creates the missing topics of the captured tables and raises max.message.bytes of existing ones. */
export async function ensureTopics(admin: Admin, topics: string[], partitions: number, log: Logger): Promise<void> {
  const existing = new Set(await admin.listTopics());
  // Topics made by an older build (or by hand) get the batch size we produce with.
  const old = topics.filter((t) => existing.has(t));
  if (old.length) {
    await admin
      .alterConfigs({
        validateOnly: false,
        resources: old.map((name) => ({
          type: kafkajs().ConfigResourceTypes.TOPIC,
          name,
          configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }],
        })),
      })
      .catch((e) =>
        log.warn(
          { err: (e as Error).message },
          'could not raise max.message.bytes of existing topics; produce requests may be rejected',
        ),
      );
  }
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length) {
    await admin
      .createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: partitions,
          replicationFactor: -1,
          configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }],
        })),
      })
      .catch((e) => {
        if (!/exists/i.test(String(e?.message))) throw e;
      });
  }
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
  async released(control: ControlDb, sourceId: string): Promise<boolean> {
    const r = await control.query(`SELECT 1 FROM source_state WHERE source_id = $1 AND slot_established_at IS NULL`, [
      sourceId,
    ]);
    return r.length > 0;
  },
  /** True when the pipeline's initial snapshot is done and no snapshot is pending or running. */
  async snapshotDone(control: ControlDb, pipelineId: string): Promise<boolean> {
    const r = await control.query(
      `SELECT count(*) FILTER (WHERE reason = 'initial' AND status = 'done')::int AS done, count(*) FILTER (WHERE status IN ('pending','running'))::int AS open
       FROM snapshots WHERE pipeline_id = $1`,
      [pipelineId],
    );
    return r[0].done > 0 && r[0].open === 0;
  },
  async release(control: ControlDb, sourceId: string): Promise<void> {
    await control.query(`UPDATE source_state SET slot_established_at = NULL, updated_at = now() WHERE source_id = $1`, [
      sourceId,
    ]);
  },
  /**
   * While a session of an initial_only source streams: aborts the session once the initial snapshot
   * is done; `completing()` then tells the session to drain everything and release its position.
   */
  watch(
    control: ControlDb,
    pipelineId: string,
    snapshotActive: () => boolean,
    session: AbortController,
  ): { timer: NodeJS.Timeout; completing: () => boolean } {
    let completing = false;
    const timer = setInterval(async () => {
      if (completing || snapshotActive()) return;
      if (await initialOnly.snapshotDone(control, pipelineId).catch(() => false)) {
        completing = true;
        session.abort();
      }
    }, 1000);
    return { timer, completing: () => completing };
  },
  /** A released source: reports it and waits for the runner to stop (the sink keeps delivering). */
  async idle(status: SourceStatus, signal: AbortSignal): Promise<void> {
    status.state = 'stopped';
    status.reason = INITIAL_ONLY_DONE;
    status.broken_since = null;
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  },
};
export const INITIAL_ONLY_DONE =
  'snapshot_complete: snapshot_mode initial_only streams no changes after the initial snapshot';

/**
 * A session is closing: flush what was read and acknowledge it, unless Kafka is the problem (then
 * only while the runner is stopping, for up to 10 s). An initial_only source completing waits for
 * everything, since its position is released afterwards.
 */
export async function drainOnClose(
  buffer: { drain(): Promise<void> },
  completing: boolean,
  runner: AbortSignal,
): Promise<void> {
  await Promise.race([buffer.drain(), completing ? sleep(0x7fffffff, runner) : sleep(runner.aborted ? 10000 : 0)]);
}
