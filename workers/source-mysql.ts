import * as mysql from 'mysql2/promise';
import { Logger } from 'pino';
import { Admin, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import ZongJi from '@vlasky/zongji';
import { ColumnInfo, Envelope, Op, kafkaKey, topicFor } from './envelope';
import { ChangeEventSource, SourceStatus, TableInfo, ensureTopics, newSourceStatus, runSessions, tableFilter, initialOnly, drainOnClose } from './change-event-source';
import { ChangeEventBuffer } from './change-event-buffer';
import { ChunkWindow, IncrementalSnapshotter, SnapshotReader, scheduleSnapshot } from './incremental-snapshot';
import { isConnectionError, sleep } from './pgconn';
import { metrics } from './metrics';
import { mysqlConnectionOptions } from './destination-mysql';

export interface MysqlSourceConfig {
  host: string; port: number; user: string; password?: string; tls_mode?: string;
  database_include: string[]; table_include: string[]; table_exclude: string[];
  server_id: number; heartbeat_interval_ms: number;
  snapshot_mode: 'initial' | 'never' | 'initial_only'; snapshot_chunk_size: number; topic_prefix: string;
}

export interface MysqlSourceRunnerOpts {
  pipelineId: string; sourceId: string; cfg: MysqlSourceConfig;
  producer: Producer; admin: Admin; control: DataSource; log: Logger; signal: AbortSignal; graceMs: number; partitions: number;
}

/**
 * Where the binlog has been read up to. `gtid` is a MariaDB GTID position (`0-1-1234,...`) or a
 * MySQL GTID set (`uuid:1-5,...`) and survives a failover to another server of the topology;
 * file + pos are used when the server has no GTIDs, and only mean something on the server that
 * wrote them: `server_id` (and MySQL's `server_uuid`) name that server, so a source whose host now
 * is another server can tell, instead of reading a same-named file of the wrong server. Positions
 * persisted before these fields existed lack them.
 */
export interface BinlogPosition { gtid: string | null; file: string | null; pos: number | null; server_id?: number | null; server_uuid?: string | null }

/** The identity of the connected server, recorded with every position. */
interface ServerIdentity { server_id: number; server_uuid: string | null }

/** A file+position persisted on one server while the source now reaches another: resuming would read the wrong binlog. */
export class PositionNotPortableError extends Error {}

/**
 * Whether a persisted position can be resumed on the connected server. A GTID position can (the
 * server itself refuses one it does not hold, with error 1236). A file+position only on the server
 * that wrote it; a position without identity (persisted by an older version) is taken as is.
 */
export function positionPortability(p: BinlogPosition, server: ServerIdentity): 'gtid' | 'same_server' | 'unknown_server' | 'other_server' {
  if (p.gtid != null) return 'gtid';
  if (p.server_id == null && p.server_uuid == null) return 'unknown_server';
  const same = p.server_uuid != null && server.server_uuid != null ? p.server_uuid === server.server_uuid : p.server_id === server.server_id;
  return same ? 'same_server' : 'other_server';
}

export const positionText = (p: BinlogPosition): string => p.gtid != null && p.gtid !== '' ? p.gtid : `${p.file}:${p.pos}`;

/** Sluice's signal table in the first included database: heartbeats and snapshot watermarks are rows in it. */
export const SIGNAL_TABLE = '_sluice_signal';

/** Column metadata as read from information_schema, with the envelope's Postgres-vocabulary type. */
interface MyColumn extends ColumnInfo { data_type: string }

const qi = (s: string) => '`' + s.replace(/`/g, '``') + '`';
const qt = (db: string, t: string) => `${qi(db)}.${qi(t)}`;

/** mysql2 settings for the metadata and snapshot connections: values come back exactly (strings for decimals, dates, big integers). */
export function mysqlConnOptions(cfg: MysqlSourceConfig): mysql.ConnectionOptions {
  return { ...mysqlConnectionOptions({ ...cfg, database: '' }), supportBigNumbers: true, bigNumberStrings: true, jsonStrings: true, enableKeepAlive: true } as mysql.ConnectionOptions;
}

/** Server error 1236 (ER_MASTER_FATAL_ERROR_READING_BINLOG): the requested GTID or file is not in the binlog any more. */
function isPositionLost(e: unknown): boolean {
  const err = e as { errno?: number; message?: string };
  return err?.errno === 1236 || /Could not find (GTID state|first log file)|purged binary logs/i.test(String(err?.message ?? ''));
}

// ---------- types: MySQL column -> Postgres type name (format_type style) and value ----------

const INTS = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year']);
const BINARY = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit']);
const TEXTS = new Set(['tinytext', 'text', 'mediumtext', 'longtext']);

/** The Postgres type the sinks create for a MySQL column (the native type travels in `native_type`). */
export function pgTypeFor(dataType: string, columnType: string, numPrecision: number | null, numScale: number | null, dtPrecision: number | null, charLen: number | null, isJson: boolean): string {
  const unsigned = /unsigned/i.test(columnType);
  const dt = (p: number | null) => (p ?? 0) === 6 ? '' : `(${p ?? 0})`;
  if (isJson || dataType === 'json') return 'jsonb';
  switch (dataType) {
    case 'tinyint': return 'smallint';
    case 'smallint': return unsigned ? 'integer' : 'smallint';
    case 'mediumint': return 'integer';
    case 'int': case 'integer': return unsigned ? 'bigint' : 'integer';
    case 'bigint': return unsigned ? 'numeric(20,0)' : 'bigint';
    case 'year': return 'smallint';
    case 'decimal': case 'numeric': return `numeric(${numPrecision ?? 10},${numScale ?? 0})`;
    case 'float': return 'real';
    case 'double': case 'real': return 'double precision';
    case 'date': return 'date';
    case 'datetime': return `timestamp${dt(dtPrecision)} without time zone`;
    case 'timestamp': return `timestamp${dt(dtPrecision)} with time zone`;
    case 'time': return `time${dt(dtPrecision)} without time zone`;
    case 'char': case 'varchar': return charLen != null ? `character varying(${charLen})` : 'text';
    case 'uuid': return 'uuid';
    default:
      if (BINARY.has(dataType)) return 'bytea';
      return 'text'; // text types, enum, set, inet*, geometry as text
  }
}

/** The shortest decimal that reads back as the same float32: what MySQL prints for a FLOAT. */
function float32Text(v: number): number {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) { const n = Number(f.toPrecision(p)); if (Math.fround(n) === f) return n; }
  return v;
}

const isZeroDate = (s: string) => s.startsWith('0000-00-00');

/**
 * A value from the binlog (zongji) or a snapshot query (mysql2) -> the envelope's JSON value, by the
 * conventions of fromPgText: decimals exact as strings, integers beyond 2^53 as strings, datetime as
 * `YYYY-MM-DD HH:MM:SS[.ffffff]`, timestamp in UTC with `+00`, json as JSON text, binary as `\x` hex.
 * Zero dates, which Postgres cannot hold, become null.
 */
export function fromMysql(dataType: string, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (INTS.has(dataType)) {
    if (typeof v === 'string') { const n = Number(v); return Number.isSafeInteger(n) ? n : v; }
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    return v;
  }
  if (BINARY.has(dataType)) return '\\x' + (Buffer.isBuffer(v) ? v : Buffer.from(String(v))).toString('hex');
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  switch (dataType) {
    case 'decimal': case 'numeric': return String(v);
    case 'float': return typeof v === 'number' ? float32Text(v) : Number(v);
    case 'double': case 'real': return typeof v === 'number' ? v : Number(v);
    case 'date': case 'datetime': { const s = String(v); return isZeroDate(s) ? null : s; }
    case 'timestamp': { const s = String(v); return isZeroDate(s) ? null : s + '+00'; }
    case 'json': return typeof v === 'string' ? v : JSON.stringify(v);
    default: return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

/** A primary-key value from the progress JSON -> a query parameter that compares like the column. */
function keyParam(c: MyColumn, v: unknown): unknown {
  if (typeof v === 'string' && BINARY.has(c.data_type) && v.startsWith('\\x')) return Buffer.from(v.slice(2), 'hex');
  if (typeof v === 'string' && c.data_type === 'timestamp') return v.replace(/\+00$/, '');
  return v;
}

interface Tx { gtid: string | null; ts: number; file: string | null; pos: number | null }

/**
 * MySQL / MariaDB -> Kafka. Reads the binlog (row format, full row image) with zongji, produces one
 * topic per table keyed by primary key, and persists the binlog position (GTID set, or file and
 * position) in the control DB only after Kafka acknowledged every event up to it. Resumes from that
 * position; runs incremental snapshots with watermark rows in Sluice's signal table.
 */
export class MysqlSourceRunner implements ChangeEventSource {
  status: SourceStatus = newSourceStatus();
  tables: TableInfo[] = [];
  ready: Promise<void>;
  private readyResolve!: () => void;
  private buffer: ChangeEventBuffer<BinlogPosition>;
  private snapshots: IncrementalSnapshotter;
  private meta: mysql.Connection | null = null;
  private isMariaDb = false;
  private server: ServerIdentity | null = null;
  private signalDb: string;
  private columns = new Map<string, MyColumn[]>();
  private staleColumns = true;
  private captured = new Set<string>();
  private seq = 0n;
  private tx: Tx | null = null;
  private acked: BinlogPosition | null = null;
  private queue: any[] = [];
  private processing = false;
  private paused = false;
  private zongji: ZongJi | null = null;

  constructor(private o: MysqlSourceRunnerOpts) {
    this.ready = new Promise((r) => { this.readyResolve = r; });
    if (!o.cfg.database_include?.length) throw new Error('source config.database_include is empty: name the databases to capture');
    this.signalDb = o.cfg.database_include[0];
    this.buffer = new ChangeEventBuffer<BinlogPosition>({
      producer: o.producer, log: o.log, graceMs: o.graceMs, signal: o.signal, status: this.status, snapshotActive: () => this.snapshotActive,
      onAck: (pos) => this.persistPosition(pos),
    });
    this.snapshots = new IncrementalSnapshotter({
      pipelineId: o.pipelineId, control: o.control, log: o.log, status: this.status, buffer: this.buffer as ChangeEventBuffer<unknown>,
      chunkSize: () => o.cfg.snapshot_chunk_size, tables: () => this.tables, topicPrefix: o.cfg.topic_prefix,
      openReader: () => this.openSnapshotReader(),
      sourceInfo: (schema, table, now) => ({ lsn: null, tx_id: null, ts_ms: now, schema, table, snapshot: false }),
    });
  }

  get snapshotActive(): boolean { return this.snapshots.active; }

  /** Runs until the signal aborts: reconnects by itself after any failure. */
  run(): Promise<void> {
    return runSessions({
      signal: this.o.signal, status: this.status, graceMs: this.o.graceMs, log: this.o.log, session: () => this.session(),
      // A purged position: resuming elsewhere would skip changes silently, so the pipeline stays Broken and says so.
      classify: (err) => err instanceof PositionNotPortableError
        ? { broken: err.message, log: 'binlog position belongs to another server' }
        : isPositionLost(err)
          ? { broken: `position_lost: ${this.o.cfg.host}:${this.o.cfg.port} does not hold position ${this.status.position} in its binlog (${err.message}): ` +
              'either the binlog was purged (raise binlog_expire_logs_seconds) or, after a failover, this server never received the transactions the source already read from the old primary ' +
              '(promote the replica that is furthest ahead, or point the source back). Recreate the source to take a fresh snapshot if neither applies', log: 'binlog position lost' }
          : { reason: isConnectionError(err) ? 'source_unreachable' : 'source_error' },
    });
  }

  private async session(): Promise<void> {
    const cfg = this.o.cfg;
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    this.o.signal.addEventListener('abort', onAbort, { once: true });
    let fatal: Error | null = null;
    const fail = (e: Error) => { fatal = fatal ?? e; abort.abort(); };
    const timers: NodeJS.Timeout[] = [];
    let zongji: ZongJi | null = null;
    try {
      const meta = await mysql.createConnection(mysqlConnOptions(cfg));
      meta.on('error', (e: Error) => fail(e));
      this.meta = meta;
      await meta.query(`SET time_zone = '+00:00'`);
      await this.checkServer(meta);
      await this.ensureSignalTable(meta);
      this.tables = await this.resolveTables(meta);
      if (!this.tables.length) throw new Error(`no tables to capture in ${cfg.database_include.join(', ')}: check database_include / table_include`);
      this.captured = new Set(this.tables.map((t) => `${t.schema}.${t.table}`));
      await ensureTopics(this.o.admin, this.tables.map((t) => t.topic), this.o.partitions, this.o.log);
      if (cfg.snapshot_mode === 'initial_only' && await initialOnly.released(this.o.control, this.o.sourceId)) {
        this.readyResolve();
        await initialOnly.idle(this.status, abort.signal);
        return;
      }
      const start = await this.startPosition(meta);
      this.acked = start;
      this.seq = 0n;
      this.buffer.reset(0n);
      this.status.position = positionText(start);
      this.readyResolve();

      // The binlog connection: decoded values in the forms fromMysql expects.
      zongji = new ZongJi({ ...mysqlConnOptions(cfg), bigNumberStrings: false } as any);
      this.zongji = zongji;
      let lastSeen = Date.now();
      zongji.on('error', (e: Error) => fail(e));
      zongji.on('binlog', (ev: any) => { lastSeen = Date.now(); this.enqueue(ev, fail); });
      const started = new Promise<void>((resolve, reject) => {
        zongji!.once('ready', () => resolve());
        zongji!.once('error', reject);
        abort.signal.addEventListener('abort', () => reject(fatal ?? new Error('aborted')), { once: true });
      });
      const includeSchema: Record<string, true> = {};
      for (const db of cfg.database_include) includeSchema[db] = true;
      zongji.start({
        serverId: cfg.server_id,
        ...(start.gtid != null ? { gtidSet: start.gtid } : { filename: start.file!, position: start.pos! }),
        includeEvents: ['tablemap', 'writerows', 'updaterows', 'deleterows', 'xid', 'query', 'rotate', 'gtid', 'mariadbgtid', 'heartbeat'],
        includeSchema,
      });
      await started;

      const flusher = this.buffer.flushLoop(abort.signal);
      this.status.state = this.snapshotActive ? 'snapshotting' : 'streaming';
      this.status.reason = null;
      this.status.broken_since = null;
      this.o.log.info({ position: positionText(start), tables: [...this.captured] }, 'binlog source streaming');

      // Heartbeats are rows in the signal table: their commits advance the position while captured
      // tables are idle, and their absence from the stream tells a stalled connection.
      if (cfg.heartbeat_interval_ms > 0) {
        timers.push(setInterval(() => { this.writeSignal(meta, 'hb', 'heartbeat', '').catch(() => undefined); }, cfg.heartbeat_interval_ms));
        const idleMs = Math.max(Number(process.env.SLUICE_SOURCE_IDLE_TIMEOUT_MS ?? 30000), cfg.heartbeat_interval_ms * 3);
        timers.push(setInterval(() => {
          if (Date.now() - lastSeen > idleMs) fail(Object.assign(new Error(`binlog stream idle for ${idleMs} ms`), { code: 'ETIMEDOUT' }));
        }, Math.max(1000, Math.floor(idleMs / 4))));
      }
      let probing = false;
      timers.push(setInterval(async () => {
        if (probing) return; probing = true;
        try { this.status.replication_lag_bytes = await this.lagBytes(meta); } catch { /* reported by the session */ } finally { probing = false; }
      }, 1000));
      this.snapshots.start(abort.signal);
      const initial = cfg.snapshot_mode === 'initial_only' ? initialOnly.watch(this.o.control, this.o.pipelineId, () => this.snapshots.active, abort) : null;
      if (initial) timers.push(initial.timer);

      await new Promise<void>((resolve) => { if (abort.signal.aborted) resolve(); else abort.signal.addEventListener('abort', () => resolve(), { once: true }); });
      for (const t of timers) clearInterval(t);
      // Shutting down: flush what was read (and persist its position) before closing, unless Kafka is the problem.
      // initial_only completing: everything must be in Kafka and acknowledged before the position is released.
      const completing = initial?.completing() ?? false;
      await drainOnClose(this.buffer, completing, this.o.signal);
      await Promise.race([flusher, sleep(5000)]);
      this.snapshots.failAll(new Error('source session ended'));
      if (fatal) throw fatal;
      if (completing && !this.o.signal.aborted && this.buffer.pendingMessages === 0) {
        await initialOnly.release(this.o.control, this.o.sourceId);
        this.o.log.info('initial_only: initial snapshot delivered to Kafka; no changes are streamed from now on');
      }
    } finally {
      for (const t of timers) clearInterval(t);
      this.o.signal.removeEventListener('abort', onAbort);
      if (zongji) { try { zongji.stop(); } catch { /* already closed */ } zongji.removeAllListeners('binlog'); zongji.on('error', () => undefined); }
      this.zongji = null;
      this.queue = [];
      this.paused = false;
      this.buffer.clear();
      this.tx = null;
      const m = this.meta;
      this.meta = null;
      if (m) { m.on('error', () => undefined); await Promise.race([m.end().catch(() => undefined), sleep(3000)]); m.destroy(); }
    }
  }

  // ---------- server, catalog, position ----------

  private async checkServer(meta: mysql.Connection) {
    const [rows] = await meta.query<any[]>(`SELECT VERSION() AS version, @@log_bin AS log_bin, @@binlog_format AS format, @@binlog_row_image AS image, @@server_id AS server_id`);
    const r = rows[0];
    this.isMariaDb = /mariadb/i.test(String(r.version));
    // MySQL names each server by a UUID; MariaDB (no server_uuid) by server_id, unique within a replication topology.
    const uuid = this.isMariaDb ? null : await meta.query<any[]>('SELECT @@server_uuid AS u').then(([u]) => String(u[0].u), () => null);
    this.server = { server_id: Number(r.server_id), server_uuid: uuid };
    const problems: string[] = [];
    if (String(r.log_bin) !== '1') problems.push('log_bin is off (start the server with --log-bin)');
    if (String(r.format).toUpperCase() !== 'ROW') problems.push(`binlog_format is ${r.format} (set binlog_format=ROW)`);
    if (String(r.image).toUpperCase() !== 'FULL') problems.push(`binlog_row_image is ${r.image} (set binlog_row_image=FULL)`);
    if (problems.length) throw new Error(`source ${this.o.cfg.host}:${this.o.cfg.port} cannot be captured: ${problems.join('; ')}`);
  }

  private async ensureSignalTable(meta: mysql.Connection) {
    await meta.query(`CREATE TABLE IF NOT EXISTS ${qt(this.signalDb, SIGNAL_TABLE)} (id varchar(100) NOT NULL PRIMARY KEY, kind varchar(16) NOT NULL, wm varchar(300) NOT NULL, at datetime(6) NOT NULL) ENGINE=InnoDB`);
  }

  /** One row per pipeline and kind, updated in place: the binlog carries each write, the table stays tiny. */
  private async writeSignal(conn: mysql.Connection, kind: string, what: string, wm: string) {
    await conn.query(`INSERT INTO ${qt(this.signalDb, SIGNAL_TABLE)} (id, kind, wm, at) VALUES (?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE kind = VALUES(kind), wm = VALUES(wm), at = VALUES(at)`,
      [`${what}:${this.o.pipelineId}`, kind, wm]);
  }

  private async resolveTables(meta: mysql.Connection): Promise<TableInfo[]> {
    const cfg = this.o.cfg;
    const [rows] = await meta.query<any[]>(
      `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (?) ORDER BY 1, 2`, [cfg.database_include]);
    const wanted = tableFilter(cfg.table_include, cfg.table_exclude);
    const out: TableInfo[] = [];
    this.columns.clear();
    for (const r of rows) {
      if (r.t === SIGNAL_TABLE || !wanted(`${r.s}.${r.t}`)) continue;
      out.push({ schema: r.s, table: r.t, oid: 0, columns: await this.loadColumns(meta, r.s, r.t), topic: topicFor(cfg.topic_prefix, r.s, r.t) });
    }
    this.staleColumns = false;
    return out;
  }

  private async loadColumns(conn: mysql.Connection, db: string, table: string): Promise<MyColumn[]> {
    const [rows] = await conn.query<any[]>(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type, COLUMN_KEY AS column_key, NUMERIC_PRECISION AS np, NUMERIC_SCALE AS ns,
              DATETIME_PRECISION AS dp, CHARACTER_MAXIMUM_LENGTH AS len
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [db, table]);
    // MariaDB's JSON is LONGTEXT with a json_valid() check constraint.
    const json = new Set<string>();
    if (this.isMariaDb) {
      const [checks] = await conn.query<any[]>(`SELECT CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, [db, table]);
      for (const ch of checks) { const m = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(String(ch.c).trim()); if (m) json.add(m[1].replace(/``/g, '`')); }
    }
    const cols: MyColumn[] = rows.map((r) => {
      const isJson = json.has(r.name);
      return {
        name: r.name, oid: 0, key: r.column_key === 'PRI', data_type: isJson ? 'json' : String(r.data_type).toLowerCase(),
        type: pgTypeFor(String(r.data_type).toLowerCase(), String(r.column_type), num(r.np), num(r.ns), num(r.dp), num(r.len), isJson),
        native_type: isJson ? 'json' : String(r.column_type),
      };
    });
    this.columns.set(`${db}.${table}`, cols);
    return cols;
  }

  /** The persisted position, or (first start) the server's current one, with the initial snapshot scheduled. */
  private async startPosition(meta: mysql.Connection): Promise<BinlogPosition> {
    const ctl = this.o.control;
    const st = await ctl.query(`SELECT acked_lsn, slot_established_at FROM source_state WHERE source_id = $1`, [this.o.sourceId]);
    if (st.length && st[0].slot_established_at && st[0].acked_lsn) return this.resumable(JSON.parse(st[0].acked_lsn) as BinlogPosition);
    const pos = await this.currentPosition(meta);
    await ctl.query(
      `INSERT INTO source_state (source_id, slot_name, slot_established_at, acked_lsn) VALUES ($1, 'binlog', now(), $2)
       ON CONFLICT (source_id) DO UPDATE SET slot_name = EXCLUDED.slot_name, slot_established_at = now(), acked_lsn = EXCLUDED.acked_lsn, updated_at = now()`,
      [this.o.sourceId, JSON.stringify(pos)]);
    // Streaming starts at this position, before any table is read: a watermarked snapshot closes the rest.
    if (this.o.cfg.snapshot_mode === 'initial' || this.o.cfg.snapshot_mode === 'initial_only') await scheduleSnapshot(ctl, this.o.pipelineId, this.tables, 'initial');
    this.o.log.info({ position: positionText(pos) }, 'binlog position established');
    return pos;
  }

  /**
   * The persisted position, if this server can resume it. After a failover (the source's host
   * switched to a promoted replica) only a GTID position carries over; a file+position of the old
   * server would name a file this server may also have, with other contents, and skip or repeat
   * changes silently.
   */
  private resumable(p: BinlogPosition): BinlogPosition {
    const server = this.server!;
    const where = `${this.o.cfg.host}:${this.o.cfg.port}`;
    switch (positionPortability(p, server)) {
      case 'other_server':
        throw new PositionNotPortableError(
          `position_not_portable: the persisted binlog position ${p.file}:${p.pos} was read from server_id ${p.server_id}${p.server_uuid ? ` (${p.server_uuid})` : ''}, ` +
          `but source ${this.o.sourceId} now reaches server_id ${server.server_id}${server.server_uuid ? ` (${server.server_uuid})` : ''} at ${where}; ` +
          'a file+position means nothing on another server and the source had no GTID position to resume from. ' +
          'Point the source back at the original server, or enable GTIDs (MySQL: gtid_mode=ON, enforce_gtid_consistency=ON) and recreate the source to take a fresh snapshot');
      case 'gtid':
        if (p.server_id != null && (p.server_id !== server.server_id || (p.server_uuid != null && server.server_uuid != null && p.server_uuid !== server.server_uuid))) {
          this.o.log.info({ position: p.gtid, from_server_id: p.server_id, server_id: server.server_id, host: where }, 'resuming the GTID position on another server of the topology (failover)');
        }
        return p;
      default:
        return p;
    }
  }

  private async currentPosition(meta: mysql.Connection): Promise<BinlogPosition> {
    const [ms] = await meta.query<any[]>('SHOW MASTER STATUS').catch(() => meta.query<any[]>('SHOW BINARY LOG STATUS'));
    const file = ms[0]?.File ?? null;
    const pos = ms[0]?.Position != null ? Number(ms[0].Position) : null;
    if (this.isMariaDb) {
      const [g] = await meta.query<any[]>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
      // Always a GTID position on MariaDB (every event group has a GTID since 10.0), even an empty
      // one, which means "nothing binlogged yet": a file+position start would leave zongji without a
      // GTID position for good, and the source could never follow a failover.
      return { gtid: String(g[0].g ?? ''), file, pos, ...this.server };
    }
    const [m] = await meta.query<any[]>(`SELECT @@GLOBAL.gtid_mode AS mode, @@GLOBAL.gtid_executed AS g`);
    const on = String(m[0].mode).toUpperCase() === 'ON';
    return { gtid: on ? String(m[0].g).replace(/\s/g, '') : null, file, pos, ...this.server };
  }

  private async persistPosition(pos: BinlogPosition) {
    this.acked = pos;
    this.status.position = positionText(pos);
    // A failed write only means a restart re-reads more (at-least-once); the next ack writes again.
    await this.o.control.query(`UPDATE source_state SET acked_lsn = $2, updated_at = now() WHERE source_id = $1`, [this.o.sourceId, JSON.stringify(pos)])
      .catch((e) => this.o.log.warn({ err: (e as Error).message }, 'could not persist the binlog position'));
  }

  private async lagBytes(meta: mysql.Connection): Promise<number | null> {
    const a = this.acked;
    if (!a?.file || a.pos == null) return null;
    // Right after a failover the acked file+position is the old server's: no byte distance on this one.
    if (this.server && positionPortability({ ...a, gtid: null }, this.server) === 'other_server') return null;
    const [logs] = await meta.query<any[]>('SHOW BINARY LOGS');
    let lag = 0;
    let after = false;
    for (const l of logs) {
      if (l.Log_name === a.file) { after = true; lag += Math.max(0, Number(l.File_size) - a.pos); continue; }
      if (after) lag += Number(l.File_size);
    }
    return after ? lag : null;
  }

  // ---------- stream ----------

  /** zongji emits synchronously; events are handled strictly in order, pausing the socket when behind. */
  private enqueue(ev: any, fail: (e: Error) => void) {
    this.queue.push(ev);
    // Only undo our own pause: zongji pauses the socket itself while it fetches table metadata.
    if (this.queue.length > 2000 && !this.paused) { this.paused = true; this.zongji?.connection?.pause(); }
    if (this.processing) return;
    this.processing = true;
    (async () => {
      try {
        while (this.queue.length) {
          const next = this.queue.shift();
          await this.onEvent(next);
          if (this.buffer.full) await this.buffer.room(); // a huge transaction: the queue fills and pauses the socket
          if (this.paused && this.queue.length < 200) { this.paused = false; this.zongji?.connection?.resume(); }
        }
      } catch (e) {
        fail(e as Error);
      } finally { this.processing = false; }
    })();
  }

  private position(): { file: string | null; pos: number | null } {
    const o = (this.zongji?.options ?? {}) as { filename?: string; position?: number };
    return { file: o.filename ?? null, pos: o.position ?? null };
  }

  private async commit() {
    const p = this.position();
    const gtid = this.zongji?.gtidSet;
    const pos: BinlogPosition = { gtid: gtid ?? null, file: p.file, pos: p.pos, ...this.server };
    this.tx = null;
    this.seq++;
    await this.buffer.commit(this.seq, pos);
  }

  private async onEvent(ev: any): Promise<void> {
    const name: string = ev.getEventName();
    switch (name) {
      case 'gtid': case 'mariadbgtid': {
        const p = this.position();
        this.tx = { gtid: ev.gtid ?? null, ts: ev.timestamp ?? Date.now(), file: p.file, pos: p.pos };
        return;
      }
      case 'xid':
        await this.commit();
        return;
      case 'query': {
        const q = String(ev.query ?? '').trim().toUpperCase();
        if (q === 'BEGIN' || q.startsWith('XA START') || q.startsWith('SAVEPOINT')) return;
        if (q === 'COMMIT' || q === 'ROLLBACK' || q.startsWith('XA COMMIT')) { await this.commit(); return; }
        // DDL (a standalone group on MariaDB, implicitly committed): columns may have changed; re-read them at the next table map.
        this.staleColumns = true;
        this.onTruncate(String(ev.query ?? ''), String(ev.schema ?? ''), ev.timestamp);
        await this.commit();
        return;
      }
      case 'tablemap': {
        const key = `${ev.schemaName}.${ev.tableName}`;
        if (!this.captured.has(key) && !(ev.schemaName === this.signalDb && ev.tableName === SIGNAL_TABLE)) return;
        const cols = this.columns.get(key);
        if (this.staleColumns || !cols || cols.length !== ev.columnCount) await this.refreshColumns(ev.schemaName, ev.tableName);
        return;
      }
      case 'writerows': case 'updaterows': case 'deleterows':
        this.onRows(name, ev);
        return;
      default:
        return;
    }
  }

  private async refreshColumns(db: string, table: string) {
    if (!this.meta) return;
    if (this.staleColumns) { this.columns.clear(); this.staleColumns = false; }
    const cols = await this.loadColumns(this.meta, db, table);
    const t = this.tables.find((x) => x.schema === db && x.table === table);
    if (t) t.columns = cols;
  }

  private onRows(name: string, ev: any) {
    const tm = ev.tableMap?.[ev.tableId];
    if (!tm) return;
    const db: string = tm.parentSchema;
    const table: string = tm.tableName;
    if (db === this.signalDb && table === SIGNAL_TABLE) { this.onSignal(ev); return; }
    const key = `${db}.${table}`;
    if (!this.captured.has(key)) return;
    const cols = this.columns.get(key);
    if (!cols) return;
    const op: Op = name === 'writerows' ? 'c' : name === 'updaterows' ? 'u' : 'd';
    const topic = topicFor(this.o.cfg.topic_prefix, db, table);
    const now = Date.now();
    const source = this.sourceBlock(db, table, ev.timestamp ?? this.tx?.ts ?? now);
    for (const r of ev.rows) {
      const before = op === 'c' ? null : convertRow(cols, op === 'u' ? r.before : r);
      const after = op === 'd' ? null : convertRow(cols, op === 'u' ? r.after : r);
      const env: Envelope = {
        op, before, after,
        source, columns: cols, ts_ms: now,
      };
      this.buffer.push(topic, kafkaKey(cols, after ?? before), env);
      // Any change inside an open snapshot window invalidates that key's chunk row.
      this.snapshots.noteChange(db, table, cols, before, after);
      metrics.eventsIn.inc({ pipeline: this.o.pipelineId });
    }
    this.status.last_event_at = new Date(now).toISOString();
  }

  /** The envelope's `source` for a change of the current transaction: its GTID (or file:pos without GTIDs). */
  private sourceBlock(db: string, table: string, ts: number): Envelope['source'] {
    const tx = this.tx;
    return { lsn: tx ? (tx.gtid ?? `${tx.file}:${tx.pos}`) : null, tx_id: null, ts_ms: ts, schema: db, table, snapshot: false, gtid: tx?.gtid ?? null, file: tx?.file ?? null, pos: tx?.pos ?? null };
  }

  /** TRUNCATE is a statement in the binlog, not row events: it becomes one op `t` event, as from Postgres. */
  private onTruncate(query: string, currentDb: string, ts: number | undefined) {
    const m = /^\s*TRUNCATE\s+(?:TABLE\s+)?(?:`((?:[^`]|``)+)`|(\w+))(?:\s*\.\s*(?:`((?:[^`]|``)+)`|(\w+)))?\s*;?\s*$/i.exec(query);
    if (!m) return;
    const first = (m[1] ?? m[2]).replace(/``/g, '`');
    const second = (m[3] ?? m[4])?.replace(/``/g, '`');
    const db = second ? first : currentDb;
    const table = second ?? first;
    const cols = this.columns.get(`${db}.${table}`);
    if (!this.captured.has(`${db}.${table}`) || !cols) return;
    const now = Date.now();
    this.buffer.push(topicFor(this.o.cfg.topic_prefix, db, table), null, { op: 't', before: null, after: null, source: this.sourceBlock(db, table, ts ?? now), columns: cols, ts_ms: now });
    this.status.last_event_at = new Date(now).toISOString();
  }

  /** Rows of the signal table: this pipeline's watermarks close snapshot windows; heartbeats only advance the position. */
  private onSignal(ev: any) {
    for (const r of ev.rows) {
      const row = r.after ?? r;
      if (row.id === `hb:${this.o.pipelineId}`) { this.status.last_event_at = new Date().toISOString(); continue; }
      if (row.id !== `wm:${this.o.pipelineId}`) continue;
      const kind = row.kind === 'low' ? 'low' : row.kind === 'high' ? 'high' : null;
      // The chunk rows join the watermark's own transaction: they go out with its commit.
      if (kind) this.snapshots.onWatermark(String(row.wm), kind, this.seq + 1n);
    }
  }

  // ---------- snapshots ----------

  private async openSnapshotReader(): Promise<SnapshotReader> {
    const conn = await mysql.createConnection(mysqlConnOptions(this.o.cfg));
    conn.on('error', () => undefined);
    await conn.query(`SET time_zone = '+00:00'`);
    const colsOf = (t: TableInfo) => this.loadColumns(conn, t.schema, t.table);
    return {
      count: async (t, filter) => {
        const [r] = await conn.query<any[]>(`SELECT COUNT(*) AS n FROM ${qt(t.schema, t.table)}${filter ? ` WHERE (${filter})` : ''}`);
        return Number(r[0].n);
      },
      columns: colsOf,
      readChunk: async (t, cols, lastKey, filter, limit) => {
        const my = cols as MyColumn[];
        const keys = my.filter((c) => c.key);
        const where: string[] = [];
        const params: unknown[] = [];
        if (limit && lastKey) {
          where.push(`(${keys.map((k) => qi(k.name)).join(', ')}) > (${keys.map(() => '?').join(', ')})`);
          keys.forEach((k, i) => params.push(keyParam(k, lastKey[i])));
        }
        if (filter) where.push(`(${filter})`);
        const sql = `SELECT ${my.map((c) => qi(c.name)).join(', ')} FROM ${qt(t.schema, t.table)}${where.length ? ' WHERE ' + where.join(' AND ') : ''}` +
          (limit ? ` ORDER BY ${keys.map((k) => qi(k.name)).join(', ')} LIMIT ${limit}` : '');
        const [rows] = await conn.query<any[]>(sql, params);
        const out = rows.map((r) => convertRow(my, r)!);
        const last = out[out.length - 1];
        return { rows: out, lastKey: last ? keys.map((k) => last[k.name]) : null };
      },
      lowWatermark: async (w: ChunkWindow) => { await this.writeSignal(conn, 'low', 'wm', w.id); },
      highWatermark: async (w: ChunkWindow, signal: AbortSignal) => {
        await this.writeSignal(conn, 'high', 'wm', w.id);
        // The stream closes the window when it reads the high watermark; the chunk is done once that commit is acked.
        return await Promise.race([w.closed, new Promise<bigint>((_, rej) => signal.addEventListener('abort', () => rej(new Error('aborted')), { once: true }))]);
      },
      close: async () => { await Promise.race([conn.end().catch(() => undefined), sleep(3000)]); conn.destroy(); },
    };
  }
}

function num(v: unknown): number | null { return v == null ? null : Number(v); }

function convertRow(cols: MyColumn[], raw: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (!raw) return null;
  const out: Record<string, unknown> = {};
  for (const c of cols) if (c.name in raw) out[c.name] = fromMysql(c.data_type, raw[c.name]);
  return out;
}
