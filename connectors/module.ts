/**
 * The shape of a connector module: one folder per connector kind (`connectors/<category>-<kind>/`),
 * whose `index.ts` exports one object that `satisfies` one of the interfaces below. The registry
 * (`connectors/index.ts`) lists them; everything else looks kinds up there.
 *
 * A module's `declaration` is driver-free (the provider, the docs and the API load it without database
 * drivers). Its runtime parts are loaded lazily, on first use, by the plane that needs them: the data
 * plane opens sources and writers, the control plane opens row counters for `verify`.
 *
 * The data-plane side of a source kind is deliberately small: the session loop, snapshots, the
 * transaction buffer, heartbeat timers and reconnects are shared (workers/source-session.ts); a kind
 * supplies only what differs (a SourceConnector). Likewise a destination kind supplies a
 * DestinationWriter; retries, the DLQ, ordering and offset commits are the sink's (workers/sink.ts).
 */
import type { ColumnInfo, Envelope } from '../core/change-event';
import type { Category, ConnectorSpec } from '../core/spec';

/** What every connector module has. */
export interface KindModule<C extends Category> {
  declaration: ConnectorSpec & { category: C };
  /** More reference for docs/connectors.md (markdown, under the field table): behaviour the fields do not say. Driver-free. */
  reference?(): string;
}

// ---------------------------------------------------------------------------------------------
// Sources

/** A captured table. `schema` is the Postgres schema or the MySQL database; `oid` is 0 for MySQL. */
export interface TableInfo {
  schema: string;
  table: string;
  oid: number;
  columns: ColumnInfo[];
  topic: string;
}

/** Where a source's position is kept between sessions (the control DB's source_state row of the source). */
export interface OffsetStore {
  /** The stored record: the slot (or position kind) it belongs to, whether it is established, the position text. */
  load(): Promise<{ slot: string | null; established: boolean; position: string | null } | null>;
  /** First start (or a recreated slot): a new position is the source's from now on. */
  establish(slot: string, position: string): Promise<void>;
  /** Kafka holds everything up to `position`. A failed save only means a restart re-reads more. */
  save(position: string): Promise<void>;
}

/** What a source kind's runtime is given. `cfg` is the source's config, secrets decrypted. */
export interface SourceContext {
  pipelineId: string;
  sourceId: string;
  cfg: Record<string, any>;
  offsets: OffsetStore;
  log: import('pino').Logger;
}

/**
 * Where a source's change events go, in stream order (workers/source-session.ts implements it: the
 * transaction buffer to Kafka, the open snapshot windows, status and metrics).
 */
export interface EventDispatcher<P> {
  /** A row change (or a truncate: op `t`, no images) of a captured table. */
  change(env: Envelope): void;
  /** A transaction ends. `seq` orders commits; `pos` is acknowledged once Kafka has every event up to it. */
  commit(seq: bigint, pos: P): Promise<void>;
  /** A snapshot watermark read from the stream; at a high one, chunk rows join the commit with sequence `nextSeq`. */
  watermark(id: string, kind: 'low' | 'high', nextSeq: bigint): void;
  /** Stream traffic that is no change (a heartbeat): the source is alive. */
  alive(): void;
  /** Resolves once the buffer has room again: a huge transaction waits here (flow control). */
  room(): Promise<void>;
}

/** The position streaming starts from. `fresh`: a new position (first start), or one that replaced a lost one (a gap to close). */
export interface StartPosition<P> {
  position: P;
  seq: bigint;
  fresh: 'new' | 'lost' | null;
}

/** A running change stream (stopped by the session, at most once). */
export interface ChangeStream {
  /** Epoch ms of the last traffic (changes or keepalives): the session gives up a stream idle for idleTimeoutMs. */
  lastSeen(): number;
  /** Stops reading (bounded: a stalled socket is destroyed). */
  stop(): Promise<void>;
}

/** How a failed session shows: Broken at once with this reason (e.g. a lost position), or a transient `reason`. */
export type SessionFailure = { broken: string; log: string } | { reason: string };

/** One chunk's watermark window: the chunk rows, and the keys the stream changed while it was open. */
export interface ChunkWindow {
  id: string;
  snapshotId: string;
  table: string;
  columns: ColumnInfo[];
  rows: Record<string, unknown>[] | null;
  changed: Set<string>;
  open: boolean;
  /** A gap-delete window: key rows absent from the source when read; each becomes a delete event unless the stream changed it. */
  deletes?: Record<string, unknown>[];
  /** Resolves with the commit sequence after which the chunk's rows are in the buffer (binlog sources use it). */
  closed: Promise<bigint>;
  close: (seq: bigint) => void;
  fail: (err: Error) => void;
}

/** The database side of an incremental snapshot (workers/incremental-snapshot.ts): one connection per snapshot run. */
export interface SnapshotReader {
  count(t: TableInfo, filter: string | null): Promise<number>;
  columns(t: TableInfo): Promise<ColumnInfo[]>;
  /**
   * Rows in key order after `lastKey` (all rows when `limit` is 0), converted to envelope values,
   * and the key of the last row in the form `lastKey` takes (it is stored in the progress JSON).
   */
  readChunk(
    t: TableInfo,
    cols: ColumnInfo[],
    lastKey: unknown[] | null,
    filter: string | null,
    limit: number,
  ): Promise<{ rows: Record<string, unknown>[]; lastKey: unknown[] | null }>;
  /** Of the given key rows (key columns only, envelope value forms), the keyString()s of those present in the table now. Enables gap deletes. */
  presentKeys?(t: TableInfo, cols: ColumnInfo[], keys: Record<string, unknown>[]): Promise<Set<string>>;
  /** Writes the low watermark into the change stream. */
  lowWatermark(w: ChunkWindow): Promise<void>;
  /** Writes the high watermark; resolves with the commit sequence to wait for before the chunk counts as done. */
  highWatermark(w: ChunkWindow, signal: AbortSignal): Promise<bigint>;
  close(): Promise<void>;
}

/**
 * What a source kind does in the shared session (workers/source-session.ts runs connect, snapshot per
 * mode, stream, heartbeats, lag probe, drain on close and reconnect with backoff). One instance per
 * pipeline runner; `open` starts each session, `close` ends it.
 */
export interface SourceConnector<P> {
  /** Opens the session's metadata connection and checks the server. `fail` ends the session with an error. */
  open(fail: (e: Error) => void): Promise<void>;
  /** The tables to capture now (include/exclude rules applied), with the server prepared for them (e.g. a publication). */
  tables(): Promise<TableInfo[]>;
  /**
   * The tables to capture now, while streaming (called every few seconds): the ones `tables()` gave plus
   * any created since that the include rules match, with the server prepared for them. Must not disturb
   * the running stream; returns the known TableInfo objects as they are.
   */
  discover?(): Promise<TableInfo[]>;
  /** Where streaming starts: the stored position, or a new one (first start, or a lost position under on_slot_loss=resnapshot). */
  startPosition(): Promise<StartPosition<P>>;
  /**
   * Streams changes after `from` into `events` until stopped; resolves once reading started (rejects
   * when the session ends first). Fatal errors go to `session.fail`.
   */
  stream(
    from: StartPosition<P>,
    events: EventDispatcher<P>,
    session: { fail: (e: Error) => void; signal: AbortSignal },
  ): Promise<ChangeStream>;
  /** Writes one heartbeat into the change stream, so the position advances while captured tables are idle. */
  heartbeat(): Promise<void>;
  /** Replication lag in bytes (null when unknown). Throws a PositionLostError when the position is gone (slot dropped). */
  lag(): Promise<number | null>;
  /** Kafka holds every event up to `p`: acknowledge it to the server or store it (ctx.offsets). */
  acknowledge(p: P): Promise<void>;
  /** snapshot_mode initial_only finished: the snapshot is in Kafka and nothing more is streamed; give the position up (drop the slot). */
  release(): Promise<void>;
  /** A released source starts again: clean up what a crash between recording the release and giving the position up left behind. */
  afterRelease?(): Promise<void>;
  openSnapshotReader(): Promise<SnapshotReader>;
  /** The `source` block of snapshot (`r`) events of a table, before the snapshot fields are added. */
  snapshotSource(schema: string, table: string, now: number): Envelope['source'];
  /** ms without stream traffic after which a session counts as stalled and is rebuilt; null: never. */
  idleTimeoutMs(): number | null;
  /** How a failed session shows; null: the default (source_unreachable for connection errors, else source_error). */
  classify(err: Error): SessionFailure | null;
  /** Ends the session's connections (bounded: never hangs on a stalled socket). */
  close(): Promise<void>;
}

/** Row counts and captured tables of a source database, for `verify`. */
export interface SourceRowCounter {
  /** The tables the source captures now, as `schema.table` (`database.table` on MySQL). */
  capturedTables(): Promise<string[]>;
  primaryKey(schema: string, table: string): Promise<string[]>;
  count(schema: string, table: string): Promise<number>;
  close(): Promise<void>;
}

/** A source kind. `P` is its position type (an LSN, a binlog position). */
export interface SourceModule<P> extends KindModule<'source'> {
  /** The runtime (data plane only). */
  connector(ctx: SourceContext): SourceConnector<P>;
  /** For `verify` (control plane). */
  openCounter(cfg: Record<string, any>): Promise<SourceRowCounter>;
  /** "Not reachable now" (retry, `source_unreachable`) rather than a failure of the source itself. */
  isConnectionError(e: unknown): boolean;
  /** The position as status, logs and the API show it. */
  positionText(p: P): string;
}

// ---------------------------------------------------------------------------------------------
// Destinations

export interface WriterOpts {
  pipelineId: string;
  cfg: Record<string, any>;
  mode: 'upsert' | 'append';
  log: import('pino').Logger;
  /** Writes the sink runs at once (one per partition being written): a pool needs this many connections plus one (DLQ replay). */
  concurrency: number;
}

/** The Kafka topic-partition a batch of records was read from (their offsets are this partition's). */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * A batch the destination applied in part (a bulk API): the records at `rejected[].index` were not
 * applied, every other record was. Rule (per key order): once a record of a key is rejected, later
 * records of that key must not count as applied before it — a writer applies at most the last
 * record per key of a batch and rejects the key's records together when that one fails, or stops
 * applying the key. The sink enforces the rest: it re-applies, after the rejected records settle
 * (retries, DLQ), every later record of a rejected record's key and everything from the first
 * barrier (truncate, keyless record, primary-key change) after the first rejection on, so those
 * writes must be idempotent (upserts, deletes and truncates are; an appended row needs a stable id).
 */
export interface PartialWrite {
  rejected: { index: number; error: Error }[];
}

/**
 * Applies change events to a destination. The sink (workers/sink.ts) owns ordering, batching,
 * retries, the DLQ and offset commits; a writer applies one batch (all or nothing where the
 * destination allows it, or in part: PartialWrite) and says which errors mean "not reachable"
 * (retried without limit) and which a rejected record (retried, then the DLQ).
 */
export interface DestinationWriter {
  /**
   * Writes the events in order; offsets[i] is envs[i]'s Kafka offset, all of partition `from`;
   * `tableFor` names a source table's destination table. Throws when nothing was applied; resolves
   * a PartialWrite when some records were rejected and the rest applied.
   */
  write(
    envs: Envelope[],
    offsets: string[],
    tableFor: (schema: string, table: string) => string,
    from: TopicPartition,
  ): Promise<void | PartialWrite>;
  /**
   * "Not reachable now": retried without limit (Broken after the grace period). Such an error may
   * carry `retryAfterMs` (the destination asked for a pause, e.g. HTTP Retry-After): the sink waits
   * at least that long before the next attempt.
   */
  isConnectionError(e: unknown): boolean;
  /** DLQ error class of an error the destination raised (e.g. `pg_23514`). */
  errorClass(e: unknown): string;
  /**
   * Applies a schema change to a destination table before the records that need it are written
   * (kinds whose schemaChanges say 'alter' or 'nullable'): widen a column's type in place, make a
   * column nullable (the source dropped it), or replace a column by one of a new type (a resolution
   * of an incompatible change). `column` carries the new type.
   */
  alterColumn?(table: string, kind: 'widen' | 'nullable' | 'replace', column: ColumnInfo): Promise<void>;
  close(): Promise<void>;
  /** Present when the writer buffers: a returned write() is then not yet durable (see BufferedWrites). */
  buffered?: BufferedWrites;
}

/**
 * The sink's hook for writers that buffer (object storage writes whole files): write() only takes
 * the records in (checking them, so a record it cannot take is a rejection as for any writer), and
 * they become durable later, when the writer rolls them into an object by its own size and age
 * limits. The sink then commits a partition only up to the offset settle() reports; it calls
 * settle() after every slice it delivered, about once a second while a partition is idle (so a file
 * closes by age), and with `force` before it stops. When the consumer restarts it calls discard():
 * what was only buffered is read again from the committed offsets.
 */
export interface BufferedWrites {
  /**
   * Every record of `tp` below offset `next` was handed to write(), went to the DLQ or was dropped
   * by a transform. Rolls what is due (everything with `force`) into durable objects and resolves
   * with the offset to commit: the lowest offset of `tp` still only buffered, or `next`. Errors as
   * write()'s: a connection error is retried without limit; nothing is forgotten on failure.
   */
  settle(tp: TopicPartition, next: string, force: boolean): Promise<string>;
  /** Forgets what is buffered for `tp` (null: for every partition); the sink reads it again. */
  discard(tp: TopicPartition | null): void;
  /** Writes the records durably now, outside the buffer: DLQ replays, whose offsets were committed long ago. */
  writeNow(
    envs: Envelope[],
    offsets: string[],
    tableFor: (schema: string, table: string) => string,
    from: TopicPartition,
  ): Promise<void>;
}

/** What a destination kind can do with a source table's schema changes (the sink asks it; docs/connectors.md shows it). */
export interface SchemaChangeSupport {
  /** New columns: 'alter' the writer adds them to the table; 'free' later records simply carry them (schemaless). */
  add: 'alter' | 'free';
  /** A dropped column: 'nullable' kept, made nullable, NULL in new rows; 'free' later records simply lack it. */
  drop: 'nullable' | 'free';
  /**
   * A widened type (int -> bigint, varchar(n) -> longer or text, numeric precision up): 'alter' in
   * place; 'free' nothing to do; 'no' impossible (incompatible).
   */
  widen: 'alter' | 'free' | 'no';
  /** Any other type change: 'free' nothing to do (schemaless); 'no' incompatible: the table is held until resolved. */
  retype: 'free' | 'no';
}

/** Row counts of a destination, for `verify`; tables are destination table names. */
export interface DestinationRowCounter {
  /** Rows; `liveOnly` skips soft-deleted ones. */
  count(table: string, liveOnly: boolean): Promise<number>;
  /** Append mode: keys whose latest change (highest `_sluice_offset`) is not a delete. */
  countLatest(table: string, keys: string[]): Promise<number>;
  close(): Promise<void>;
}

/** A destination kind. */
export interface DestinationModule extends KindModule<'destination'> {
  /** The runtime (data plane only). */
  writer(o: WriterOpts): DestinationWriter;
  /** For `verify` (control plane); absent when the kind cannot count what it holds (verify says so). */
  openCounter?(cfg: Record<string, any>): Promise<DestinationRowCounter>;
  /** What the kind does with schema changes (data plane and docs). */
  schemaChanges: SchemaChangeSupport;
}

// ---------------------------------------------------------------------------------------------
// Transforms

export interface TransformDef {
  id: string;
  name: string;
  kind: string;
  config: Record<string, any>;
}
/** A transform step: the (changed) event, or null to drop it. A throw sends the record to the DLQ. */
export type TransformFn = (e: Envelope) => Envelope | null;

/** A transform kind. */
export interface TransformModule extends KindModule<'transform'> {
  /** The step for one configured transform (data plane only); `dispose` frees what it holds (a sandbox). */
  build(def: TransformDef): { apply: TransformFn; dispose?: () => void };
}

export type ConnectorModule = SourceModule<any> | DestinationModule | TransformModule;
