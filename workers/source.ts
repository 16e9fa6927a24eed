import { Client } from 'pg';
import { Logger } from 'pino';
import { Admin, ConfigResourceTypes, Producer, Message } from 'kafkajs';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { DataSource } from 'typeorm';
import { ColumnInfo, Envelope, Op, fromPgText, kafkaKey, keyString, lsnToBigInt, qualified, quoteIdent, topicFor } from './envelope';
import { DbConnConfig, backoff, isConnectionError, pgClientConfig, sleep } from './pgconn';
import { metrics } from './metrics';

export interface SourceConfig extends DbConnConfig {
  schema_include: string[]; table_include: string[]; table_exclude: string[];
  slot_name: string; publication_name: string; heartbeat_interval_ms: number;
  snapshot_mode: 'initial' | 'never' | 'initial_only'; snapshot_chunk_size: number; topic_prefix: string;
  on_slot_loss: 'fail' | 'resnapshot';
}

export interface TableInfo { schema: string; table: string; oid: number; columns: ColumnInfo[]; topic: string }

export interface SourceStatus {
  state: 'starting' | 'snapshotting' | 'streaming' | 'broken' | 'stopped';
  reason: string | null;
  position: string | null;
  last_event_at: string | null;
  replication_lag_bytes: number | null;
  broken_since?: number | null;
}

/** Topics accept record batches this large, so one produce request carries thousands of events. */
export const TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

class SlotLost extends Error { constructor(msg: string) { super(msg); this.name = 'SlotLost'; } }

/** pgoutput with the values left as Postgres text: we convert them ourselves, exactly. */
class RawPgoutput extends PgoutputPlugin {
  parse(buffer: Buffer): any {
    const m = super.parse(buffer) as any;
    if (m.tag === 'relation') for (const c of m.columns) c.parser = (x: unknown) => x;
    return m;
  }
}

type BufItem = { kind: 'msg'; topic: string; message: Message } | { kind: 'commit'; lsn: string };

interface ChunkWindow { snapshotId: string; table: string; rows: Map<string, Record<string, unknown>> | null; changed: Set<string>; open: boolean; done: (err?: Error) => void; columns: ColumnInfo[] }

export interface SourceRunnerOpts {
  pipelineId: string;
  sourceId: string;
  cfg: SourceConfig;
  producer: Producer;
  admin: Admin;
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
export class SourceRunner {
  status: SourceStatus = { state: 'starting', reason: null, position: null, last_event_at: null, replication_lag_bytes: null, broken_since: null };
  tables: TableInfo[] = [];
  ready: Promise<void>;
  private readyResolve!: () => void;
  private buf: BufItem[] = [];
  private bufMsgs = 0;
  private ackedLsn = 0n;
  private ackedLsnText: string | null = null;
  private ackWaiters: { lsn: bigint; resolve: () => void }[] = [];
  private wake: (() => void) | null = null;
  private service: LogicalReplicationService | null = null;
  private meta: Client | null = null;
  private relCols = new Map<number, ColumnInfo[]>();
  private tx: { xid: number; ts: number; lsn: string | null } | null = null;
  private windows = new Map<string, ChunkWindow>();
  private sessionAbort: AbortController | null = null;
  private snapshotTimer = false;
  private streamError: Error | null = null;
  private flushFailedSince: number | null = null;
  snapshotActive = false;

  constructor(private o: SourceRunnerOpts) {
    this.ready = new Promise((r) => { this.readyResolve = r; });
  }

  private setBroken(reason: string) {
    if (this.status.state !== 'broken') this.status.broken_since = Date.now();
    this.status.state = 'broken';
    this.status.reason = reason;
  }

  /** Runs until the signal aborts: reconnects by itself after any failure. */
  async run(): Promise<void> {
    let attempt = 0;
    while (!this.o.signal.aborted) {
      try {
        await this.session();
        attempt = 0;
      } catch (e) {
        if (this.o.signal.aborted) break;
        attempt++;
        const err = e as Error;
        if (err instanceof SlotLost) {
          this.setBroken('slot_lost');
          this.o.log.error({ err: err.message }, 'replication slot lost; on_slot_loss=fail keeps the pipeline Broken until the slot is recreated or on_slot_loss=resnapshot');
          await sleep(5000, this.o.signal);
          continue;
        }
        const reason = isConnectionError(err) ? 'source_unreachable' : /replication slot .* is active/i.test(err.message) ? 'slot_busy' : 'source_error';
        // Brief blips are not "Broken": the state flips only after the grace period.
        if (this.status.broken_since == null) this.status.broken_since = Date.now();
        if (Date.now() - (this.status.broken_since ?? 0) >= this.o.graceMs) { this.status.state = 'broken'; }
        this.status.reason = `${reason}: ${err.message}`;
        this.o.log.warn({ err: err.message, attempt }, 'source session failed; retrying');
        await sleep(backoff(attempt, 500, 5000), this.o.signal);
      }
    }
    this.status.state = 'stopped';
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
      await this.ensureTopics();
      await this.ensurePublication(meta);
      const startLsn = await this.ensureSlot(meta);
      this.ackedLsn = lsnToBigInt(startLsn);
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

      const flusher = this.flushLoop(abort.signal);
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
      this.startSnapshots(abort.signal);

      await new Promise<void>((resolve) => { if (abort.signal.aborted) resolve(); else abort.signal.addEventListener('abort', () => resolve(), { once: true }); });
      // Shutting down: flush what was read (and ack it) before closing, unless Kafka is the problem.
      for (const t of timers) clearInterval(t);
      await Promise.race([this.drain(), sleep(this.o.signal.aborted ? 10000 : 0)]);
      // A stalled socket never completes a polite close: bound it, then destroy the socket.
      const stopped = await Promise.race([service.stop().then(() => true, () => true), sleep(3000).then(() => false)]);
      if (!stopped) (service as any)._client?.connection?.stream?.destroy();
      this.service = null;
      await Promise.race([streaming, sleep(3000)]);
      await Promise.race([flusher, sleep(5000)]);
      for (const w of this.windows.values()) w.done(new Error('source session ended'));
      this.windows.clear();
      if (fatal) throw fatal;
      if (this.streamError) throw this.streamError;
    } finally {
      for (const t of timers) clearInterval(t);
      this.o.signal.removeEventListener('abort', onAbort);
      this.buf = []; this.bufMsgs = 0; this.tx = null;
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
    const full = (re: string) => new RegExp('^(?:' + re + ')$');
    const inc = (cfg.table_include ?? []).map(full);
    const exc = (cfg.table_exclude ?? []).map(full);
    const out: TableInfo[] = [];
    for (const row of r.rows) {
      const name = `${row.schema}.${row.table}`;
      if (inc.length && !inc.some((x) => x.test(name))) continue;
      if (exc.some((x) => x.test(name))) continue;
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

  private async ensureTopics(): Promise<void> {
    const existing = new Set(await this.o.admin.listTopics());
    // Topics made by an older build (or by hand) get the batch size we produce with.
    const old = this.tables.map((t) => t.topic).filter((t) => existing.has(t));
    if (old.length) {
      await this.o.admin.alterConfigs({ validateOnly: false, resources: old.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }] })) })
        .catch((e) => this.o.log.warn({ err: (e as Error).message }, 'could not raise max.message.bytes of existing topics; produce requests may be rejected'));
    }
    const missing = this.tables.map((t) => t.topic).filter((t) => !existing.has(t));
    if (missing.length) {
      await this.o.admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: this.o.partitions, replicationFactor: -1, configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }] })) }).catch((e) => {
        if (!/exists/i.test(String(e?.message))) throw e;
      });
    }
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
      await ctl.query(`INSERT INTO snapshots (pipeline_id, tables, mode, reason) VALUES ($1, $2, 'incremental', $3)`,
        [this.o.pipelineId, JSON.stringify(this.tables.map((t) => `${t.schema}.${t.table}`)), lost ? 'slot_lost' : 'initial']);
    }
    this.o.log[lost ? 'warn' : 'info']({ slot: cfg.slot_name, lsn: c.rows[0].lsn, resnapshot: lost }, lost ? 'replication slot was lost: recreated it and scheduled a snapshot of every captured table' : 'replication slot created');
    return c.rows[0].lsn;
  }

  private async relationColumns(msg: any): Promise<ColumnInfo[]> {
    let cols = this.relCols.get(msg.relationOid);
    if (cols && cols.length === msg.columns.length) return cols;
    const cat = this.meta ? await this.columnsOf(this.meta, msg.relationOid) : [];
    const byName = new Map(cat.map((c) => [c.name, c]));
    cols = msg.columns.map((c: any) => {
      const k = byName.get(c.name);
      return { name: c.name, oid: c.typeOid, type: k?.type ?? 'text', key: k ? k.key : (c.flags & 1) === 1 };
    });
    this.relCols.set(msg.relationOid, cols!);
    const t = this.tables.find((x) => x.oid === msg.relationOid);
    if (t) t.columns = cols!;
    return cols!;
  }

  // ---------- stream ----------

  private convert(cols: ColumnInfo[], raw: Record<string, any> | null): Record<string, unknown> | null {
    if (!raw) return null;
    const out: Record<string, unknown> = {};
    for (const c of cols) {
      if (!(c.name in raw)) continue;
      const v = fromPgText(c.oid, raw[c.name]);
      if (v !== undefined) out[c.name] = v;
    }
    return out;
  }

  private colsJson = new WeakMap<ColumnInfo[], string>();
  /** The value is the envelope; column types travel in the `sluice.columns` header (one cached string per relation). */
  private push(topic: string, key: string | null, env: Envelope) {
    let cols = this.colsJson.get(env.columns);
    if (cols === undefined) { cols = JSON.stringify(env.columns); this.colsJson.set(env.columns, cols); }
    const { columns: _c, ...value } = env;
    this.buf.push({ kind: 'msg', topic, message: { key, value: JSON.stringify(value), headers: { 'sluice.columns': cols } } });
    this.bufMsgs++;
  }

  private async onMessage(_lsn: string, msg: any): Promise<void> {
    switch (msg.tag) {
      case 'begin':
        this.tx = { xid: msg.xid, ts: Number(BigInt(msg.commitTime) / 1000n), lsn: msg.commitLsn ?? null };
        return;
      case 'relation':
        await this.relationColumns(msg);
        return;
      case 'insert': case 'update': case 'delete': {
        const rel = msg.relation;
        const cols = await this.relationColumns(rel);
        const op: Op = msg.tag === 'insert' ? 'c' : msg.tag === 'update' ? 'u' : 'd';
        const before = this.convert(cols, msg.old ?? msg.key ?? null);
        const after = op === 'd' ? null : this.convert(cols, msg.new);
        const topic = topicFor(this.o.cfg.topic_prefix, rel.schema, rel.name);
        const now = Date.now();
        const env: Envelope = {
          op, before: op === 'c' ? null : before, after,
          source: { lsn: this.tx?.lsn ?? null, tx_id: this.tx?.xid ?? null, ts_ms: this.tx?.ts ?? now, schema: rel.schema, table: rel.name, snapshot: false },
          columns: cols, ts_ms: now,
        };
        const keyRow = after ?? before;
        this.push(topic, kafkaKey(cols, keyRow), env);
        this.status.last_event_at = new Date(now).toISOString();
        metrics.eventsIn.inc({ pipeline: this.o.pipelineId });
        // Any change inside an open snapshot window invalidates that key's chunk row.
        if (this.windows.size) {
          for (const w of this.windows.values()) {
            if (!w.open || w.table !== `${rel.schema}.${rel.name}`) continue;
            if (before) w.changed.add(keyString(cols, before));
            if (after) w.changed.add(keyString(cols, after));
          }
        }
        return;
      }
      case 'truncate': {
        const now = Date.now();
        for (const rel of msg.relations) {
          const cols = await this.relationColumns(rel);
          this.push(topicFor(this.o.cfg.topic_prefix, rel.schema, rel.name), null, {
            op: 't', before: null, after: null,
            source: { lsn: this.tx?.lsn ?? null, tx_id: this.tx?.xid ?? null, ts_ms: this.tx?.ts ?? now, schema: rel.schema, table: rel.name, snapshot: false }, columns: cols, ts_ms: now,
          });
        }
        return;
      }
      case 'message': {
        if (msg.prefix !== 'sluice_wm') return;
        const wm = JSON.parse(Buffer.from(msg.content).toString('utf8')) as { id: string; kind: 'low' | 'high' };
        const w = this.windows.get(wm.id);
        if (!w) return;
        if (wm.kind === 'low') { w.open = true; return; }
        // High watermark: emit the chunk rows nobody changed inside the window, in stream order here.
        w.open = false;
        const [schema, table] = w.table.split('.');
        const topic = topicFor(this.o.cfg.topic_prefix, schema, table);
        const now = Date.now();
        for (const [k, row] of w.rows ?? []) {
          if (w.changed.has(k)) continue;
          const after = row;
          this.push(topic, kafkaKey(w.columns, after), {
            op: 'r', before: null, after,
            source: { lsn: null, tx_id: this.tx?.xid ?? null, ts_ms: now, schema, table, snapshot: true, snapshot_id: w.snapshotId }, columns: w.columns, ts_ms: now,
          });
        }
        w.rows = null;
        return;
      }
      case 'commit': {
        this.tx = null;
        this.buf.push({ kind: 'commit', lsn: msg.commitEndLsn });
        this.wake?.();
        if (this.bufMsgs > 20000) await this.drain();
        return;
      }
      default:
        return;
    }
  }

  /** Resolves once everything buffered so far is in Kafka and acknowledged. */
  private drain(): Promise<void> {
    const last = [...this.buf].reverse().find((b) => b.kind === 'commit') as { lsn: string } | undefined;
    if (!last) return Promise.resolve();
    return this.waitAcked(lsnToBigInt(last.lsn));
  }

  private waitAcked(lsn: bigint): Promise<void> {
    if (this.ackedLsn >= lsn) return Promise.resolve();
    return new Promise((resolve) => this.ackWaiters.push({ lsn, resolve }));
  }

  private async flushLoop(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    let take: BufItem[] = [];
    while (true) {
      if (!take.length) {
        if (!this.buf.length) {
          if (signal.aborted) return;
          await new Promise<void>((r) => { this.wake = r; setTimeout(r, 20); });
          this.wake = null;
          continue;
        }
        // Only whole transactions go out together; a partial tail waits for its commit.
        let end = -1;
        for (let i = this.buf.length - 1; i >= 0; i--) if (this.buf[i].kind === 'commit') { end = i; break; }
        if (end < 0) { await sleep(5); if (signal.aborted && !this.buf.some((b) => b.kind === 'commit')) return; continue; }
        take = this.buf.splice(0, end + 1);
        this.bufMsgs -= take.filter((b) => b.kind === 'msg').length;
      }
      const byTopic = new Map<string, Message[]>();
      let lastCommit: string | null = null;
      for (const b of take) {
        if (b.kind === 'msg') { let l = byTopic.get(b.topic); if (!l) byTopic.set(b.topic, (l = [])); l.push(b.message); }
        else lastCommit = b.lsn;
      }
      try {
        if (byTopic.size) {
          // Kafka takes one record batch per partition per request, capped by the topic's
          // max.message.bytes (8 MiB for topics we create): requests of at most ~4 MB per topic, in order.
          const LIMIT = Number(process.env.SLUICE_PRODUCE_BATCH_BYTES ?? 4_000_000);
          let req = new Map<string, { messages: Message[]; bytes: number }>();
          const send = async () => {
            if (!req.size) return;
            await this.o.producer.sendBatch({ topicMessages: [...req].map(([topic, v]) => ({ topic, messages: v.messages })), acks: -1 });
            req = new Map();
          };
          for (const [topic, messages] of byTopic) {
            for (const m of messages) {
              const size = (m.value as string).length + ((m.key as string | null)?.length ?? 0) + 100;
              let e = req.get(topic);
              if (e && e.bytes + size > LIMIT) { await send(); e = undefined; }
              if (!e) req.set(topic, (e = { messages: [], bytes: 0 }));
              e.messages.push(m);
              e.bytes += size;
            }
          }
          await send();
        }
        attempt = 0;
        this.flushFailedSince = null;
        if (this.status.state === 'broken' && this.status.reason?.startsWith('kafka')) { this.status.state = this.snapshotActive ? 'snapshotting' : 'streaming'; this.status.reason = null; this.status.broken_since = null; }
        take = [];
        if (lastCommit) await this.ack(lastCommit);
      } catch (e) {
        // Kafka did not take the batch: keep it, do not ack, retry without limit (the source holds its WAL).
        attempt++;
        this.flushFailedSince = this.flushFailedSince ?? Date.now();
        if (Date.now() - this.flushFailedSince >= this.o.graceMs) this.setBroken(`kafka_unreachable: ${(e as Error).message}`);
        this.o.log.warn({ err: (e as Error).message, attempt }, 'producing to Kafka failed; retrying (LSN not acknowledged)');
        if (signal.aborted && this.o.signal.aborted && attempt > 3) return;
        await sleep(backoff(attempt, 200, 3000));
      }
    }
  }

  private async ack(lsn: string) {
    const n = lsnToBigInt(lsn);
    if (n <= this.ackedLsn) return;
    this.ackedLsn = n;
    this.ackedLsnText = lsn;
    this.status.position = lsn;
    await this.service?.acknowledge(lsn).catch(() => undefined);
    const ready = this.ackWaiters.filter((w) => w.lsn <= n);
    this.ackWaiters = this.ackWaiters.filter((w) => w.lsn > n);
    for (const w of ready) w.resolve();
  }

  // ---------- snapshots ----------

  private startSnapshots(signal: AbortSignal) {
    if (this.snapshotTimer) return;
    this.snapshotTimer = true;
    (async () => {
      try {
        while (!signal.aborted) {
          const did = await this.runPendingSnapshot(signal).catch((e) => {
            if (!signal.aborted) this.o.log.warn({ err: (e as Error).message }, 'snapshot step failed; will resume from the last chunk');
            return false;
          });
          if (!did) await sleep(500, signal);
        }
      } finally { this.snapshotTimer = false; this.snapshotActive = false; }
    })();
  }

  private async runPendingSnapshot(signal: AbortSignal): Promise<boolean> {
    const ctl = this.o.control;
    const rows = await ctl.query(`SELECT * FROM snapshots WHERE pipeline_id = $1 AND status IN ('pending','running') ORDER BY created_at LIMIT 1`, [this.o.pipelineId]);
    if (!rows.length) { this.snapshotActive = false; if (this.status.state === 'snapshotting') this.status.state = 'streaming'; return false; }
    const snap = rows[0];
    this.snapshotActive = true;
    if (this.status.state === 'streaming') this.status.state = 'snapshotting';
    const progress: Record<string, any> = snap.progress ?? {};
    await ctl.query(`UPDATE snapshots SET status = 'running', updated_at = now() WHERE id = $1`, [snap.id]);
    const meta = new Client(pgClientConfig(this.o.cfg, { application_name: 'sluice-snapshot' }));
    meta.on('error', () => undefined);
    await meta.connect();
    try {
      for (const name of snap.tables as string[]) {
        const t = this.tables.find((x) => `${x.schema}.${x.table}` === name);
        const p = (progress[name] = progress[name] ?? { rows: 0, last_key: null, done: false, total_estimate: null });
        if (!t) { p.done = true; p.error = 'table is not captured by this source'; continue; }
        if (p.done) continue;
        if (p.total_estimate == null) {
          const est = await meta.query(`SELECT count(*)::bigint AS n FROM ${qualified(t.schema, t.table)}${snap.filter ? ` WHERE (${snap.filter})` : ''}`);
          p.total_estimate = Number(est.rows[0].n);
          await ctl.query(`UPDATE snapshots SET progress = $2, updated_at = now() WHERE id = $1`, [snap.id, JSON.stringify(progress)]);
        }
        const cols = await this.columnsOf(meta, t.oid);
        const keys = cols.filter((c) => c.key);
        const chunk = snap.mode === 'blocking' || !keys.length ? 0 : this.o.cfg.snapshot_chunk_size;
        while (!signal.aborted) {
          // Qualified with the alias t: an unqualified ORDER BY would sort by the ::text output columns.
          const sel = cols.map((c) => `t.${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}`).join(', ');
          const where: string[] = [];
          const params: unknown[] = [];
          if (chunk && p.last_key) {
            where.push(`(${keys.map((k) => 't.' + quoteIdent(k.name)).join(', ')}) > (${keys.map((k, i) => { params.push(p.last_key[i]); return `$${i + 1}::${k.type}`; }).join(', ')})`);
          }
          if (snap.filter) where.push(`(${snap.filter})`);
          const sql = `SELECT ${sel} FROM ${qualified(t.schema, t.table)} t${where.length ? ' WHERE ' + where.join(' AND ') : ''}` +
            (chunk ? ` ORDER BY ${keys.map((k) => 't.' + quoteIdent(k.name)).join(', ')} LIMIT ${chunk}` : '');
          const id = `${snap.id}:${name}:${p.rows}`;
          const w: ChunkWindow = { snapshotId: snap.id, table: name, rows: null, changed: new Set(), open: false, done: () => undefined, columns: cols };
          this.windows.set(id, w);
          let res;
          try {
            await meta.query(`SELECT pg_logical_emit_message(true, 'sluice_wm', $1)`, [JSON.stringify({ id, kind: 'low' })]);
            res = await meta.query(sql, params);
            const m = new Map<string, Record<string, unknown>>();
            for (const row of res.rows) { const conv = this.convert(cols, row)!; m.set(keyString(cols, conv), conv); }
            w.rows = m;
            const hi = await meta.query(`SELECT pg_logical_emit_message(true, 'sluice_wm', $1)::text AS lsn`, [JSON.stringify({ id, kind: 'high' })]);
            const acked = this.waitAcked(lsnToBigInt(hi.rows[0].lsn) + 1n);
            while (!signal.aborted && !(await Promise.race([acked.then(() => true), sleep(200).then(() => false)]))) { /* wait for Kafka */ }
          } finally {
            this.windows.delete(id);
          }
          if (signal.aborted) return true;
          p.rows += res.rows.length;
          if (res.rows.length) { const lastRow = res.rows[res.rows.length - 1]; p.last_key = keys.map((k) => lastRow[k.name]); }
          if (!chunk || res.rows.length < chunk) p.done = true;
          await ctl.query(`UPDATE snapshots SET progress = $2, updated_at = now() WHERE id = $1`, [snap.id, JSON.stringify(progress)]);
          metrics.snapshotRows.inc({ pipeline: this.o.pipelineId }, res.rows.length);
          if (p.done) break;
        }
        if (signal.aborted) return true;
      }
      await ctl.query(`UPDATE snapshots SET status = 'done', progress = $2, updated_at = now(), finished_at = now() WHERE id = $1`, [snap.id, JSON.stringify(progress)]);
      this.o.log.info({ snapshot_id: snap.id, tables: snap.tables }, 'snapshot finished');
      return true;
    } finally {
      if (!(await Promise.race([meta.end().then(() => true, () => true), sleep(3000).then(() => false)]))) (meta as any).connection?.stream?.destroy();
    }
  }
}
