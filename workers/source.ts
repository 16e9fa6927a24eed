import { Client } from 'pg';
import { Logger } from 'pino';
import { Admin, Kafka, Producer } from 'kafkajs';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { DataSource } from 'typeorm';
import { ColumnInfo, Envelope, Op, fromPgText, kafkaKey, keyString, lsnToBigInt, qualified, quoteIdent, topicFor } from './envelope';
import { liveKeys } from './topic-keys';
import { ChangeEventSource, SourceStatus, TableInfo, ensureTopics, initialOnly, drainOnClose, newSourceStatus, runSessions, tableFilter } from './change-event-source';
import { ChangeEventBuffer } from './change-event-buffer';
import { IncrementalSnapshotter, SnapshotReader, scheduleSnapshot } from './incremental-snapshot';
import { DbConnConfig, isConnectionError, pgClientConfig, sleep } from './pgconn';
import { metrics } from './metrics';

export interface SourceConfig extends DbConnConfig {
  schema_include: string[]; table_include: string[]; table_exclude: string[];
  slot_name: string; publication_name: string; heartbeat_interval_ms: number;
  snapshot_mode: 'initial' | 'never' | 'initial_only'; snapshot_chunk_size: number; topic_prefix: string;
  on_slot_loss: 'fail' | 'resnapshot';
}

export type { SourceStatus, TableInfo } from './change-event-source';
export { TOPIC_MAX_MESSAGE_BYTES } from './change-event-source';

class SlotLost extends Error { constructor(msg: string) { super(msg); this.name = 'SlotLost'; } }

/**
 * pgoutput with each value converted from its Postgres text by our exact rules (fromPgText) while
 * the tuple is parsed, instead of pg's type parsers: the parsed tuples are the envelope's
 * before/after values as they are (no second object per row). Unchanged TOAST values stay
 * undefined, which the JSON envelope leaves out.
 */
// pg-logical-replication decodes every text value with one shared TextDecoder, which strips a
// leading U+FEFF as a byte order mark: a value starting with it would arrive without it. Buffer's
// UTF-8 decoding keeps every character (and is faster); invalid bytes become U+FFFD either way.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { BinaryReader } = require('pg-logical-replication/dist/output-plugins/pgoutput/binary-reader');
BinaryReader.prototype.decodeText = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

class RawPgoutput extends PgoutputPlugin {
  parse(buffer: Buffer): any {
    const m = super.parse(buffer) as any;
    if (m.tag === 'relation') for (const c of m.columns) { const oid = c.typeOid; c.parser = (x: string) => fromPgText(oid, x); }
    return m;
  }
}

export interface SourceRunnerOpts {
  pipelineId: string;
  sourceId: string;
  cfg: SourceConfig;
  producer: Producer;
  admin: Admin;
  /** Reads the table topics' live keys after a replication gap (gap deletes). */
  kafka?: Kafka;
  control: DataSource;
  log: Logger;
  signal: AbortSignal;
  graceMs: number;
  partitions: number;
}

/**
 * Postgres -> Kafka. Streams the slot, produces one topic per table keyed by primary key, and
 * acknowledges a commit LSN to Postgres only after Kafka acknowledged every event up to it.
 * Runs incremental (watermark) snapshots alongside the stream.
 */
export class SourceRunner implements ChangeEventSource {
  status: SourceStatus = newSourceStatus();
  tables: TableInfo[] = [];
  ready: Promise<void>;
  private readyResolve!: () => void;
  private ackedLsnText: string | null = null;
  private buffer: ChangeEventBuffer<string>;
  private snapshots: IncrementalSnapshotter;
  private service: LogicalReplicationService | null = null;
  private meta: Client | null = null;
  private relCols = new Map<number, ColumnInfo[]>();
  private tx: { xid: number; ts: number; lsn: string | null; sources: Map<number, Envelope['source']> } | null = null;
  private sessionAbort: AbortController | null = null;
  private streamError: Error | null = null;

  constructor(private o: SourceRunnerOpts) {
    this.ready = new Promise((r) => { this.readyResolve = r; });
    this.buffer = new ChangeEventBuffer<string>({
      producer: o.producer, log: o.log, graceMs: o.graceMs, signal: o.signal, status: this.status, snapshotActive: () => this.snapshotActive,
      onAck: async (lsn) => {
        this.ackedLsnText = lsn;
        this.status.position = lsn;
        await this.service?.acknowledge(lsn).catch(() => undefined);
      },
    });
    this.snapshots = new IncrementalSnapshotter({
      pipelineId: o.pipelineId, control: o.control, log: o.log, status: this.status, buffer: this.buffer as ChangeEventBuffer<unknown>,
      chunkSize: () => o.cfg.snapshot_chunk_size, tables: () => this.tables, topicPrefix: o.cfg.topic_prefix,
      openReader: () => this.openSnapshotReader(),
      liveKeys: o.kafka ? (t, signal) => liveKeys(o.kafka!, o.admin, t.topic, signal) : undefined,
      sourceInfo: (schema, table, now) => ({ lsn: null, tx_id: this.tx?.xid ?? null, ts_ms: now, schema, table, snapshot: false }),
    });
  }

  get snapshotActive(): boolean { return this.snapshots.active; }

  /** Runs until the signal aborts: reconnects by itself after any failure. */
  run(): Promise<void> {
    return runSessions({
      signal: this.o.signal, status: this.status, graceMs: this.o.graceMs, log: this.o.log, session: () => this.session(),
      classify: (err) => err instanceof SlotLost
        ? { broken: 'slot_lost', log: 'replication slot lost; on_slot_loss=fail keeps the pipeline Broken until the slot is recreated or on_slot_loss=resnapshot' }
        : { reason: isConnectionError(err) ? 'source_unreachable' : /replication slot .* is active/i.test(err.message) ? 'slot_busy' : 'source_error' },
    });
  }

  private async session(): Promise<void> {
    const cfg = this.o.cfg;
    const abort = new AbortController();
    this.sessionAbort = abort;
    const onAbort = () => abort.abort();
    this.o.signal.addEventListener('abort', onAbort, { once: true });
    const meta = new Client(pgClientConfig(cfg, { application_name: `sluice-meta-${this.o.pipelineId.slice(0, 8)}` }));
    meta.on('error', (e) => { this.streamError = e; abort.abort(); });
    this.meta = meta;
    this.streamError = null;
    const timers: NodeJS.Timeout[] = [];
    try {
      await meta.connect();
      this.tables = await this.resolveTables(meta);
      await ensureTopics(this.o.admin, this.tables.map((t) => t.topic), this.o.partitions, this.o.log);
      await this.ensurePublication(meta);
      if (cfg.snapshot_mode === 'initial_only' && await initialOnly.released(this.o.control, this.o.sourceId)) {
        await this.dropSlotIfAny(meta); // left behind by a crash between recording the release and the drop
        this.readyResolve();
        await initialOnly.idle(this.status, abort.signal);
        return;
      }
      const startLsn = await this.ensureSlot(meta);
      this.buffer.reset(lsnToBigInt(startLsn));
      this.ackedLsnText = startLsn;
      this.status.position = startLsn;
      this.readyResolve();

      const service = new LogicalReplicationService(pgClientConfig(cfg, { application_name: `sluice-${this.o.pipelineId.slice(0, 8)}`, query_timeout: undefined }), {
        acknowledge: { auto: false, timeoutSeconds: 0 },
        flowControl: { enabled: true },
      });
      this.service = service;
      let fatal: Error | null = null;
      service.on('error', (e: Error) => { fatal = fatal ?? e; abort.abort(); });
      service.on('heartbeat', (_lsn: string, _ts: number, shouldRespond: boolean) => {
        if (shouldRespond && this.ackedLsnText) service.acknowledge(this.ackedLsnText).catch(() => undefined);
      });
      let lastSeen = Date.now();
      service.on('data', async (lsn: string, msg: any) => { lastSeen = Date.now(); await this.onMessage(lsn, msg); });
      service.on('heartbeat', () => { lastSeen = Date.now(); });
      // A stalled connection sends nothing, not even keepalives: give up on it and reconnect.
      const idleMs = Number(process.env.SLUICE_SOURCE_IDLE_TIMEOUT_MS ?? 30000);
      timers.push(setInterval(() => {
        if (Date.now() - lastSeen > idleMs) { fatal = fatal ?? Object.assign(new Error(`replication stream idle for ${idleMs} ms`), { code: 'ETIMEDOUT' }); abort.abort(); }
        else if (this.ackedLsnText) service.acknowledge(this.ackedLsnText, true).catch(() => undefined);
      }, Math.max(1000, Math.floor(idleMs / 4))));

      const flusher = this.buffer.flushLoop(abort.signal);
      const plugin = new RawPgoutput({ protoVersion: 1, publicationNames: [cfg.publication_name], messages: true });
      const streaming = service.subscribe(plugin, cfg.slot_name, startLsn).catch((e: Error) => { fatal = fatal ?? e; abort.abort(); });
      this.status.state = this.snapshotActive ? 'snapshotting' : 'streaming';
      this.status.reason = null;
      this.status.broken_since = null;
      this.o.log.info({ slot: cfg.slot_name, lsn: startLsn, tables: this.tables.map((t) => `${t.schema}.${t.table}`) }, 'source streaming');

      // Heartbeats keep the slot moving while captured tables are idle; the lag probe also detects slot loss.
      if (cfg.heartbeat_interval_ms > 0) {
        timers.push(setInterval(() => { meta.query(`SELECT pg_logical_emit_message(true, 'sluice_hb', '')`).catch(() => undefined); }, cfg.heartbeat_interval_ms));
      }
      let probing = false;
      timers.push(setInterval(async () => {
        if (probing) return; probing = true;
        try {
          const r = await meta.query(`SELECT wal_status, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = $1`, [cfg.slot_name]);
          if (!r.rows.length || r.rows[0].wal_status === 'lost') { fatal = new SlotLost('slot missing or invalidated'); abort.abort(); return; }
          this.status.replication_lag_bytes = Number(r.rows[0].lag ?? 0);
        } catch { /* reported by the session */ } finally { probing = false; }
      }, 1000));
      this.snapshots.start(abort.signal);
      const initial = cfg.snapshot_mode === 'initial_only' ? initialOnly.watch(this.o.control, this.o.pipelineId, () => this.snapshots.active, abort) : null;
      if (initial) timers.push(initial.timer);

      await new Promise<void>((resolve) => { if (abort.signal.aborted) resolve(); else abort.signal.addEventListener('abort', () => resolve(), { once: true }); });
      // Shutting down: flush what was read (and ack it) before closing, unless Kafka is the problem.
      // initial_only completing: everything must be in Kafka and acknowledged before the slot goes.
      for (const t of timers) clearInterval(t);
      const completing = initial?.completing() ?? false;
      await drainOnClose(this.buffer, completing, this.o.signal);
      // A stalled socket never completes a polite close: bound it, then destroy the socket.
      const stopped = await Promise.race([service.stop().then(() => true, () => true), sleep(3000).then(() => false)]);
      if (!stopped) (service as any)._client?.connection?.stream?.destroy();
      this.service = null;
      await Promise.race([streaming, sleep(3000)]);
      await Promise.race([flusher, sleep(5000)]);
      this.snapshots.failAll(new Error('source session ended'));
      if (fatal) throw fatal;
      if (this.streamError) throw this.streamError;
      if (completing && !this.o.signal.aborted && this.buffer.pendingMessages === 0) await this.releaseSlot(meta);
    } finally {
      for (const t of timers) clearInterval(t);
      this.o.signal.removeEventListener('abort', onAbort);
      this.buffer.clear(); this.tx = null;
      if (!(await Promise.race([meta.end().then(() => true, () => true), sleep(3000).then(() => false)]))) (meta as any).connection?.stream?.destroy();
      this.meta = null;
    }
  }

  // ---------- catalog ----------

  private async resolveTables(meta: Client): Promise<TableInfo[]> {
    const cfg = this.o.cfg;
    const r = await meta.query(
      `SELECT n.nspname AS schema, c.relname AS table, c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r','p') AND NOT c.relispartition AND n.nspname = ANY($1) ORDER BY 1, 2`, [cfg.schema_include?.length ? cfg.schema_include : ['public']]);
    const wanted = tableFilter(cfg.table_include, cfg.table_exclude);
    const out: TableInfo[] = [];
    for (const row of r.rows) {
      if (!wanted(`${row.schema}.${row.table}`)) continue;
      out.push({ schema: row.schema, table: row.table, oid: row.oid, columns: await this.columnsOf(meta, row.oid), topic: topicFor(cfg.topic_prefix, row.schema, row.table) });
    }
    return out;
  }

  private async columnsOf(meta: Client, oid: number): Promise<ColumnInfo[]> {
    const r = await meta.query(
      `SELECT a.attname AS name, a.atttypid::int AS oid, format_type(a.atttypid, a.atttypmod) AS type,
              COALESCE(a.attnum = ANY(i.indkey), false) AS key
       FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
       WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, [oid]);
    return r.rows.map((x) => ({ name: x.name, oid: x.oid, type: x.type, key: x.key }));
  }

  private async ensurePublication(meta: Client): Promise<void> {
    const cfg = this.o.cfg;
    if (!this.tables.length) throw new Error('no tables to capture: check schema_include / table_include');
    const pub = await meta.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [cfg.publication_name]);
    const list = this.tables.map((t) => qualified(t.schema, t.table));
    if (!pub.rows.length) {
      await meta.query(`CREATE PUBLICATION ${quoteIdent(cfg.publication_name)} FOR TABLE ${list.join(', ')}`).catch((e) => { if (e.code !== '42710') throw e; });
      return;
    }
    const have = await meta.query(`SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`, [cfg.publication_name]);
    const set = new Set(have.rows.map((r) => `${r.schemaname}.${r.tablename}`));
    const add = this.tables.filter((t) => !set.has(`${t.schema}.${t.table}`));
    if (add.length) await meta.query(`ALTER PUBLICATION ${quoteIdent(cfg.publication_name)} ADD TABLE ${add.map((t) => qualified(t.schema, t.table)).join(', ')}`);
  }

  /** initial_only done: the slot goes (no WAL kept for a source that streams no more), the release is recorded. */
  private async releaseSlot(meta: Client): Promise<void> {
    const slot = this.o.cfg.slot_name;
    // Recorded first: a crash before the drop leaves a slot that the next start drops (released path),
    // never a recorded slot that has vanished (which would read as slot_lost).
    await initialOnly.release(this.o.control, this.o.sourceId);
    await this.dropSlotIfAny(meta);
    this.o.log.info({ slot }, 'initial_only: initial snapshot delivered to Kafka; replication slot dropped, no changes are streamed from now on');
  }

  private async dropSlotIfAny(meta: Client): Promise<void> {
    const slot = this.o.cfg.slot_name;
    // The walsender may take a moment to let go of the slot after the stream stopped.
    for (let attempt = 1; ; attempt++) {
      try { await meta.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]); break; } catch (e) {
        if (attempt >= 20 || !/is active/i.test((e as Error).message)) throw e;
        await sleep(250);
      }
    }
  }

  /** Returns the LSN to stream from. Creates the slot on first start; detects a lost slot afterwards. */
  private async ensureSlot(meta: Client): Promise<string> {
    const cfg = this.o.cfg;
    const ctl = this.o.control;
    const st = await ctl.query(`SELECT slot_name, slot_established_at FROM source_state WHERE source_id = $1`, [this.o.sourceId]);
    const established = st.length > 0 && st[0].slot_established_at && st[0].slot_name === cfg.slot_name;
    const r = await meta.query(`SELECT confirmed_flush_lsn::text AS lsn, wal_status FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, [cfg.slot_name]);
    let lost = false;
    if (r.rows.length && r.rows[0].wal_status !== 'lost') return r.rows[0].lsn;
    if (r.rows.length) lost = true; // invalidated
    if (established) lost = true;
    if (lost && cfg.on_slot_loss !== 'resnapshot') throw new SlotLost(`replication slot ${cfg.slot_name} is ${r.rows.length ? 'invalidated' : 'missing'}`);
    if (r.rows.length) await meta.query(`SELECT pg_drop_replication_slot($1)`, [cfg.slot_name]);
    const c = await meta.query(`SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [cfg.slot_name]);
    await ctl.query(
      `INSERT INTO source_state (source_id, slot_name, slot_established_at, acked_lsn) VALUES ($1, $2, now(), $3)
       ON CONFLICT (source_id) DO UPDATE SET slot_name = EXCLUDED.slot_name, slot_established_at = now(), acked_lsn = EXCLUDED.acked_lsn, updated_at = now()`,
      [this.o.sourceId, cfg.slot_name, c.rows[0].lsn]);
    // The slot exists before any table is read, so every later change is streamed: a snapshot closes the rest.
    const wantSnapshot = lost || cfg.snapshot_mode === 'initial' || cfg.snapshot_mode === 'initial_only';
    if (wantSnapshot) {
      await scheduleSnapshot(ctl, this.o.pipelineId, this.tables, lost ? 'slot_lost' : 'initial');
    }
    this.o.log[lost ? 'warn' : 'info']({ slot: cfg.slot_name, lsn: c.rows[0].lsn, resnapshot: lost }, lost ? 'replication slot was lost: recreated it and scheduled a snapshot of every captured table' : 'replication slot created');
    return c.rows[0].lsn;
  }

  /** format_type() of a type oid and modifier, as the catalog query writes it; cached (types do not change). */
  private typeNames = new Map<string, string>();
  private async typeName(oid: number, mod: number): Promise<string | null> {
    const k = `${oid}:${mod}`;
    const have = this.typeNames.get(k);
    if (have !== undefined) return have;
    if (!this.meta) return null;
    const r = await this.meta.query(`SELECT format_type($1::oid, $2::int) AS t, EXISTS (SELECT 1 FROM pg_type WHERE oid = $1::oid) AS known`, [oid, mod]);
    if (!r.rows[0].known) return null; // a type created by the same transaction, not visible yet
    this.typeNames.set(k, r.rows[0].t);
    return r.rows[0].t;
  }

  /** Columns of a relation; `fresh` for a Relation message (the schema may have changed, e.g. a type modifier, with the same column count). */
  private async relationColumns(msg: any, fresh = false): Promise<ColumnInfo[]> {
    let cols = this.relCols.get(msg.relationOid);
    if (!fresh && cols && cols.length === msg.columns.length) return cols;
    const cat = this.meta ? await this.columnsOf(this.meta, msg.relationOid) : [];
    const byName = new Map(cat.map((c) => [c.name, c]));
    cols = [];
    for (const c of msg.columns) {
      const k = byName.get(c.name);
      // The type comes from the message (type oid + modifier), not from the table's catalog: a
      // walsender can send a transaction an instant before other sessions see it, so a column added
      // by that very transaction may be missing from the catalog still (it came out as text).
      const type = (await this.typeName(c.typeOid, c.typeMod)) ?? k?.type ?? 'text';
      cols.push({ name: c.name, oid: c.typeOid, type, key: k ? k.key : msg.replicaIdentity === 'default' && (c.flags & 1) === 1 });
    }
    this.relCols.set(msg.relationOid, cols!);
    const t = this.tables.find((x) => x.oid === msg.relationOid);
    if (t) t.columns = cols!;
    return cols!;
  }

  // ---------- stream ----------

  /** The `source` block of a stream event: one (never changed) object per transaction and table, so the envelope encoder renders it once. */
  private sourceOf(rel: { relationOid: number; schema: string; name: string }, now: number): Envelope['source'] {
    let src = this.tx?.sources.get(rel.relationOid);
    if (!src) {
      src = { lsn: this.tx?.lsn ?? null, tx_id: this.tx?.xid ?? null, ts_ms: this.tx?.ts ?? now, schema: rel.schema, table: rel.name, snapshot: false };
      this.tx?.sources.set(rel.relationOid, src);
    }
    return src;
  }

  private async onMessage(_lsn: string, msg: any): Promise<void> {
    switch (msg.tag) {
      case 'begin':
        this.tx = { xid: msg.xid, ts: Number(BigInt(msg.commitTime) / 1000n), lsn: msg.commitLsn ?? null, sources: new Map() };
        return;
      case 'relation':
        await this.relationColumns(msg, true);
        return;
      case 'insert': case 'update': case 'delete': {
        const rel = msg.relation;
        const cols = await this.relationColumns(rel);
        const op: Op = msg.tag === 'insert' ? 'c' : msg.tag === 'update' ? 'u' : 'd';
        const before: Record<string, unknown> | null = msg.old ?? msg.key ?? null;
        const after: Record<string, unknown> | null = op === 'd' ? null : msg.new;
        const topic = topicFor(this.o.cfg.topic_prefix, rel.schema, rel.name);
        const now = Date.now();
        const env: Envelope = { op, before: op === 'c' ? null : before, after, source: this.sourceOf(rel, now), columns: cols, ts_ms: now };
        const keyRow = after ?? before;
        this.buffer.push(topic, kafkaKey(cols, keyRow), env);
        this.status.last_event_at = new Date(now).toISOString();
        metrics.eventsIn.inc({ pipeline: this.o.pipelineId });
        // Any change inside an open snapshot window invalidates that key's chunk row.
        this.snapshots.noteChange(rel.schema, rel.name, cols, before, after);
        if (this.buffer.full) await this.buffer.room(); // a huge transaction: the stream waits (flow control)
        return;
      }
      case 'truncate': {
        const now = Date.now();
        for (const rel of msg.relations) {
          const cols = await this.relationColumns(rel);
          this.buffer.push(topicFor(this.o.cfg.topic_prefix, rel.schema, rel.name), null, {
            op: 't', before: null, after: null,
            source: this.sourceOf(rel, now), columns: cols, ts_ms: now,
          });
        }
        return;
      }
      case 'message': {
        // A heartbeat counts as a source event (as in the MySQL source): alerts on a silent source rely on it.
        if (msg.prefix === 'sluice_hb') { this.status.last_event_at = new Date().toISOString(); return; }
        if (msg.prefix !== 'sluice_wm') return;
        const wm = JSON.parse(Buffer.from(msg.content).toString('utf8')) as { id: string; kind: 'low' | 'high' };
        // High watermark: the chunk rows nobody changed inside the window go out here, in stream order.
        this.snapshots.onWatermark(wm.id, wm.kind, 0n);
        return;
      }
      case 'commit': {
        this.tx = null;
        await this.buffer.commit(lsnToBigInt(msg.commitEndLsn), msg.commitEndLsn);
        return;
      }
      default:
        return;
    }
  }

  // ---------- snapshots ----------

  /** Postgres side of the incremental snapshot: chunks read as text, watermarks as logical messages. */
  private async openSnapshotReader(): Promise<SnapshotReader> {
    const meta = new Client(pgClientConfig(this.o.cfg, { application_name: 'sluice-snapshot' }));
    meta.on('error', () => undefined);
    await meta.connect();
    return {
      count: async (t, filter) => {
        const est = await meta.query(`SELECT count(*)::bigint AS n FROM ${qualified(t.schema, t.table)}${filter ? ` WHERE (${filter})` : ''}`);
        return Number(est.rows[0].n);
      },
      columns: (t) => this.columnsOf(meta, t.oid),
      readChunk: async (t, cols, lastKey, filter, limit) => {
        const keys = cols.filter((c) => c.key);
        const keyIdx = keys.map((k) => cols.indexOf(k));
        // Qualified with the alias t: an unqualified ORDER BY would sort by the ::text output columns.
        const sel = cols.map((c) => `t.${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}`).join(', ');
        const where: string[] = [];
        const params: unknown[] = [];
        if (limit && lastKey) {
          where.push(`(${keys.map((k) => 't.' + quoteIdent(k.name)).join(', ')}) > (${keys.map((k, i) => { params.push(lastKey[i]); return `$${i + 1}::${k.type}`; }).join(', ')})`);
        }
        if (filter) where.push(`(${filter})`);
        const sql = `SELECT ${sel} FROM ${qualified(t.schema, t.table)} t${where.length ? ' WHERE ' + where.join(' AND ') : ''}` +
          (limit ? ` ORDER BY ${keys.map((k) => 't.' + quoteIdent(k.name)).join(', ')} LIMIT ${limit}` : '');
        // Rows as arrays of text (no per-row object from pg), converted straight into envelope values.
        const res = await meta.query<unknown[]>({ text: sql, values: params, rowMode: 'array' });
        const n = cols.length;
        const rows = new Array<Record<string, unknown>>(res.rows.length);
        for (let r = 0; r < res.rows.length; r++) {
          const a = res.rows[r] as (string | null)[];
          const out: Record<string, unknown> = {};
          for (let i = 0; i < n; i++) out[cols[i].name] = fromPgText(cols[i].oid, a[i]);
          rows[r] = out;
        }
        const last = res.rows[res.rows.length - 1] as (string | null)[] | undefined;
        return { rows, lastKey: last ? keyIdx.map((i) => last[i]) : null };
      },
      presentKeys: async (t, cols, keyRows) => {
        const keys = cols.filter((c) => c.key);
        // One text[] per key column, joined with the table and cast back to the column types.
        const params = keys.map((k) => keyRows.map((r) => { const v = r[k.name]; return v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v); }));
        // Which of the given keys matched (by position): compared as given, never re-rendered by the
        // server, so a different DateStyle or bytea_output cannot make an existing row look absent.
        const sql = `SELECT DISTINCT k.n FROM ${qualified(t.schema, t.table)} t ` +
          `JOIN unnest(${keys.map((_, i) => `$${i + 1}::text[]`).join(', ')}) WITH ORDINALITY AS k(${keys.map((_, i) => `c${i}`).join(', ')}, n) ON ${keys.map((k, i) => `t.${quoteIdent(k.name)} = k.c${i}::${k.type}`).join(' AND ')}`;
        const res = await meta.query<{ n: string }>(sql, params);
        return new Set(res.rows.map((x) => keyString(cols, keyRows[Number(x.n) - 1])));
      },
      lowWatermark: async (w) => { await meta.query(`SELECT pg_logical_emit_message(true, 'sluice_wm', $1)`, [JSON.stringify({ id: w.id, kind: 'low' })]); },
      highWatermark: async (w) => {
        const hi = await meta.query(`SELECT pg_logical_emit_message(true, 'sluice_wm', $1)::text AS lsn`, [JSON.stringify({ id: w.id, kind: 'high' })]);
        return lsnToBigInt(hi.rows[0].lsn) + 1n;
      },
      close: async () => {
        if (!(await Promise.race([meta.end().then(() => true, () => true), sleep(3000).then(() => false)]))) (meta as any).connection?.stream?.destroy();
      },
    };
  }
}
