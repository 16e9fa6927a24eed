import * as mysql from 'mysql2/promise';
import ZongJi from '@vlasky/zongji';
import type { Envelope, Op } from '../../core/change-event';
import { topicFor } from '../../core/names';
import { sleep } from '../../core/retry';
import type {
  ChangeStream,
  ChunkWindow,
  EventDispatcher,
  SnapshotReader,
  SourceConnector,
  SourceContext,
  StartPosition,
  TableInfo,
} from '../module';
import { mysqlConnectionOptions } from '../shared/mysql';
import { tableFilter } from '../shared/table-filter';
import { classifyMysqlSourceFailure, PositionNotPortableError } from './errors';
import { BinlogPosition, positionPortability, positionText, ServerIdentity } from './position';
import { SIGNAL_TABLE } from './signal';
import { convertRow, keyParam, MyColumn, num, pgTypeFor } from './types';

export interface MysqlSourceConfig {
  host: string;
  port: number;
  user: string;
  password?: string;
  tls_mode?: string;
  database_include: string[];
  table_include: string[];
  table_exclude: string[];
  server_id: number;
  heartbeat_interval_ms: number;
  snapshot_mode: 'initial' | 'never' | 'initial_only';
  snapshot_chunk_size: number;
  topic_prefix: string;
}

export { SIGNAL_TABLE } from './signal';

const qi = (s: string) => '`' + s.replace(/`/g, '``') + '`';
const qt = (db: string, t: string) => `${qi(db)}.${qi(t)}`;

/** mysql2 settings for the metadata and snapshot connections: values come back exactly (strings for decimals, dates, big integers). */
export function mysqlConnOptions(cfg: MysqlSourceConfig): mysql.ConnectionOptions {
  return {
    ...mysqlConnectionOptions(cfg),
    supportBigNumbers: true,
    bigNumberStrings: true,
    jsonStrings: true,
    enableKeepAlive: true,
  } as mysql.ConnectionOptions;
}

interface Tx {
  gtid: string | null;
  ts: number;
  file: string | null;
  pos: number | null;
}

/**
 * MySQL / MariaDB -> the source session. Reads the binlog (row format, full row image) with zongji,
 * and persists the binlog position (GTID set, or file and position) in the control DB only after
 * Kafka acknowledged every event up to it (the session calls acknowledge). Heartbeats and snapshot
 * watermarks are rows of Sluice's signal table; commits are ordered by a per-session counter.
 */
export class MysqlSource implements SourceConnector<BinlogPosition> {
  private readonly cfg: MysqlSourceConfig;
  private readonly signalDb: string;
  private meta: mysql.Connection | null = null;
  private isMariaDb = false;
  private server: ServerIdentity | null = null;
  private tablesNow: TableInfo[] = [];
  private columns = new Map<string, MyColumn[]>();
  private staleColumns = true;
  private captured = new Set<string>();
  private seq = 0n;
  private tx: Tx | null = null;
  private acked: BinlogPosition | null = null;
  private stored: BinlogPosition | null = null;
  private queue: any[] = [];
  private processing = false;
  /**
   * Bumped by close(). The connector outlives its sessions, and a session can end while its event loop
   * waits (a drain for Kafka, a column query on a stalled link): that loop must neither block the next
   * session's loop nor take its events. Without this, every later session went idle (repeat, scenario e).
   */
  private generation = 0;
  private paused = false;
  private zongji: ZongJi | null = null;

  constructor(private readonly ctx: SourceContext) {
    this.cfg = ctx.cfg as MysqlSourceConfig;
    if (!this.cfg.database_include?.length)
      throw new Error('source config.database_include is empty: name the databases to capture');
    this.signalDb = this.cfg.database_include[0];
  }

  private get where() {
    return `${this.cfg.host}:${this.cfg.port}`;
  }

  async open(fail: (e: Error) => void): Promise<void> {
    const meta = await mysql.createConnection(mysqlConnOptions(this.cfg));
    meta.on('error', (e: Error) => fail(e));
    this.meta = meta;
    await meta.query(`SET time_zone = '+00:00'`);
    await this.checkServer(meta);
    await this.ensureSignalTable(meta);
  }

  async close(): Promise<void> {
    const z = this.zongji;
    this.zongji = null;
    if (z) {
      try {
        z.stop();
      } catch {
        /* already closed */
      }
      z.removeAllListeners('binlog');
      z.on('error', () => undefined);
    }
    this.generation++;
    this.queue = [];
    this.paused = false;
    this.processing = false;
    this.tx = null;
    const m = this.meta;
    this.meta = null;
    if (m) {
      m.on('error', () => undefined);
      await Promise.race([m.end().catch(() => undefined), sleep(3000)]);
      m.destroy();
    }
  }

  classify(err: Error) {
    return classifyMysqlSourceFailure(err, this.where, this.stored ? positionText(this.stored) : null);
  }

  /** Stalls show as missing heartbeats, so the idle check needs them. */
  idleTimeoutMs() {
    return this.cfg.heartbeat_interval_ms > 0
      ? Math.max(Number(process.env.SLUICE_SOURCE_IDLE_TIMEOUT_MS ?? 30000), this.cfg.heartbeat_interval_ms * 3)
      : null;
  }

  // ---------- server, catalog, position ----------

  private async checkServer(meta: mysql.Connection) {
    const [rows] = await meta.query<any[]>(
      'SELECT VERSION() AS version, @@log_bin AS log_bin, @@binlog_format AS ' +
        'format, @@binlog_row_image AS image, @@server_id AS server_id',
    );
    const r = rows[0];
    this.isMariaDb = /mariadb/i.test(String(r.version));
    // MySQL names each server by a UUID; MariaDB (no server_uuid) by server_id, unique within a replication topology.
    const uuid = this.isMariaDb
      ? null
      : await meta.query<any[]>('SELECT @@server_uuid AS u').then(
          ([u]) => String(u[0].u),
          () => null,
        );
    this.server = { server_id: Number(r.server_id), server_uuid: uuid };
    const problems: string[] = [];
    if (String(r.log_bin) !== '1') problems.push('log_bin is off (start the server with --log-bin)');
    if (String(r.format).toUpperCase() !== 'ROW') problems.push(`binlog_format is ${r.format} (set binlog_format=ROW)`);
    if (String(r.image).toUpperCase() !== 'FULL')
      problems.push(`binlog_row_image is ${r.image} (set binlog_row_image=FULL)`);
    if (problems.length) throw new Error(`source ${this.where} cannot be captured: ${problems.join('; ')}`);
  }

  private async ensureSignalTable(meta: mysql.Connection) {
    await meta.query(
      `CREATE TABLE IF NOT EXISTS ${qt(this.signalDb, SIGNAL_TABLE)} (id varchar(100) NOT NULL PRIMARY ` +
        `KEY, kind varchar(16) NOT NULL, wm varchar(300) NOT NULL, at datetime(6) NOT NULL) ENGINE=InnoDB`,
    );
  }

  /** One row per pipeline and kind, updated in place: the binlog carries each write, the table stays tiny. */
  private async writeSignal(conn: mysql.Connection, kind: string, what: string, wm: string) {
    await conn.query(
      `INSERT INTO ${qt(this.signalDb, SIGNAL_TABLE)} (id, kind, wm, at) VALUES (?, ?, ?, ` +
        `NOW(6)) ON DUPLICATE KEY UPDATE kind = VALUES(kind), wm = VALUES(wm), at = VALUES(at)`,
      [`${what}:${this.ctx.pipelineId}`, kind, wm],
    );
  }

  async heartbeat(): Promise<void> {
    await this.writeSignal(this.meta!, 'hb', 'heartbeat', '');
  }

  async tables(): Promise<TableInfo[]> {
    const meta = this.meta!;
    const cfg = this.cfg;
    const [rows] = await meta.query<any[]>(
      'SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM ' +
        "information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND " +
        'TABLE_SCHEMA IN (?) ORDER BY 1, 2',
      [cfg.database_include],
    );
    const wanted = tableFilter(cfg.table_include, cfg.table_exclude);
    const out: TableInfo[] = [];
    this.columns.clear();
    for (const r of rows) {
      if (r.t === SIGNAL_TABLE || !wanted(`${r.s}.${r.t}`)) continue;
      out.push({
        schema: r.s,
        table: r.t,
        oid: 0,
        columns: await this.loadColumns(meta, r.s, r.t),
        topic: topicFor(cfg.topic_prefix, r.s, r.t),
      });
    }
    this.staleColumns = false;
    if (!out.length)
      throw new Error(
        `no tables to capture in ${cfg.database_include.join(', ')}: check database_include / table_include`,
      );
    this.tablesNow = out;
    this.captured = new Set(out.map((t) => `${t.schema}.${t.table}`));
    return out;
  }

  /** Tables created since: their columns are read first, then they are captured (the binlog already carries them). */
  async discover(): Promise<TableInfo[]> {
    const meta = this.meta!;
    const cfg = this.cfg;
    const [rows] = await meta.query<any[]>(
      'SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM ' +
        "information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND " +
        'TABLE_SCHEMA IN (?) ORDER BY 1, 2',
      [cfg.database_include],
    );
    const wanted = tableFilter(cfg.table_include, cfg.table_exclude);
    for (const r of rows) {
      const name = `${r.s}.${r.t}`;
      if (r.t === SIGNAL_TABLE || !wanted(name) || this.captured.has(name)) continue;
      const columns = await this.loadColumns(meta, r.s, r.t);
      this.tablesNow = [
        ...this.tablesNow,
        { schema: r.s, table: r.t, oid: 0, columns, topic: topicFor(cfg.topic_prefix, r.s, r.t) },
      ];
      this.captured.add(name);
    }
    return this.tablesNow;
  }

  private async loadColumns(conn: mysql.Connection, db: string, table: string): Promise<MyColumn[]> {
    const [rows] = await conn.query<any[]>(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type, COLUMN_KEY AS column_key, NUMERIC_PRECISION AS np, NUMERIC_SCALE AS ns,
              DATETIME_PRECISION AS dp, CHARACTER_MAXIMUM_LENGTH AS len
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [db, table],
    );
    // MariaDB's JSON is LONGTEXT with a json_valid() check constraint.
    const json = new Set<string>();
    if (this.isMariaDb) {
      const [checks] = await conn.query<any[]>(
        'SELECT CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS ' +
          'WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?',
        [db, table],
      );
      for (const ch of checks) {
        const m = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(String(ch.c).trim());
        if (m) json.add(m[1].replace(/``/g, '`'));
      }
    }
    const cols: MyColumn[] = rows.map((r) => {
      const isJson = json.has(r.name);
      return {
        name: r.name,
        oid: 0,
        key: r.column_key === 'PRI',
        data_type: isJson ? 'json' : String(r.data_type).toLowerCase(),
        type: pgTypeFor(
          String(r.data_type).toLowerCase(),
          String(r.column_type),
          num(r.np),
          num(r.ns),
          num(r.dp),
          num(r.len),
          isJson,
        ),
        native_type: isJson ? 'json' : String(r.column_type),
      };
    });
    this.columns.set(`${db}.${table}`, cols);
    return cols;
  }

  /** The persisted position, or (first start) the server's current one. */
  async startPosition(): Promise<StartPosition<BinlogPosition>> {
    const st = await this.ctx.offsets.load();
    this.seq = 0n;
    if (st?.established && st.position) {
      this.stored = JSON.parse(st.position) as BinlogPosition;
      const pos = this.resumable(this.stored);
      this.acked = pos;
      return { position: pos, seq: 0n, fresh: null };
    }
    const pos = await this.currentPosition(this.meta!);
    // Streaming starts at this position, before any table is read: a watermarked snapshot closes the rest.
    await this.ctx.offsets.establish('binlog', JSON.stringify(pos));
    this.ctx.log.info({ position: positionText(pos) }, 'binlog position established');
    this.stored = pos;
    this.acked = pos;
    return { position: pos, seq: 0n, fresh: 'new' };
  }

  /**
   * The persisted position, if this server can resume it. After a failover (the source's host
   * switched to a promoted replica) only a GTID position carries over; a file+position of the old
   * server would name a file this server may also have, with other contents, and skip or repeat
   * changes silently.
   */
  private resumable(p: BinlogPosition): BinlogPosition {
    const server = this.server!;
    switch (positionPortability(p, server)) {
      case 'other_server':
        throw new PositionNotPortableError(
          `position_not_portable: the persisted binlog position ${p.file}:${p.pos} was ` +
            `read from server_id ${p.server_id}${p.server_uuid ? ` (${p.server_uuid})` : ''}, ` +
            (`but source ${this.ctx.sourceId} now reaches ` +
              `server_id ${server.server_id}${server.server_uuid ? ` (${server.server_uuid})` : ''} at ${this.where}; `) +
            'a file+position means nothing on another server and the source had no GTID position to resume from. ' +
            ('Point the source back at the original server, or enable GTIDs (MySQL: ' +
              'gtid_mode=ON, enforce_gtid_consistency=ON) and recreate the source to ' +
              'take a fresh snapshot'),
        );
      case 'gtid':
        if (
          p.server_id != null &&
          (p.server_id !== server.server_id ||
            (p.server_uuid != null && server.server_uuid != null && p.server_uuid !== server.server_uuid))
        ) {
          this.ctx.log.info(
            { position: p.gtid, from_server_id: p.server_id, server_id: server.server_id, host: this.where },
            'resuming the GTID position on another server of the topology (failover)',
          );
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

  async acknowledge(pos: BinlogPosition): Promise<void> {
    this.acked = pos;
    this.stored = pos;
    // A failed write only means a restart re-reads more (at-least-once); the next ack writes again.
    await this.ctx.offsets
      .save(JSON.stringify(pos))
      .catch((e) => this.ctx.log.warn({ err: (e as Error).message }, 'could not persist the binlog position'));
  }

  /** Nothing to give up on the server: the session records the release; the binlog position is simply not read any more. */
  async release(): Promise<void> {
    /* no server-side state */
  }

  async lag(): Promise<number | null> {
    const meta = this.meta!;
    const a = this.acked;
    if (!a?.file || a.pos == null) return null;
    // Right after a failover the acked file+position is the old server's: no byte distance on this one.
    if (this.server && positionPortability({ ...a, gtid: null }, this.server) === 'other_server') return null;
    const [logs] = await meta.query<any[]>('SHOW BINARY LOGS');
    let lag = 0;
    let after = false;
    for (const l of logs) {
      if (l.Log_name === a.file) {
        after = true;
        lag += Math.max(0, Number(l.File_size) - a.pos);
        continue;
      }
      if (after) lag += Number(l.File_size);
    }
    return after ? lag : null;
  }

  // ---------- stream ----------

  async stream(
    from: StartPosition<BinlogPosition>,
    events: EventDispatcher<BinlogPosition>,
    session: { fail: (e: Error) => void; signal: AbortSignal },
  ): Promise<ChangeStream> {
    const cfg = this.cfg;
    const start = from.position;
    const { fail } = session;
    // The binlog connection: decoded values in the forms fromMysql expects.
    const zongji = new ZongJi({ ...mysqlConnOptions(cfg), bigNumberStrings: false } as any);
    this.zongji = zongji;
    let lastSeen = Date.now();
    // zongji's 'ready' comes before the dump command is even sent. The server answers that command with
    // an artificial rotate event, or with error 1236 when the position was purged: the stream has started
    // only at that answer, so a lost position never shows as streaming for a moment (scenario g, repeat).
    let answered: ((e?: Error) => void) | null = null;
    zongji.on('error', (e: Error) => {
      answered?.(e); // first: the start fails with the server's error, not with the session's abort
      fail(e);
    });
    zongji.on('binlog', (ev: any) => {
      lastSeen = Date.now();
      answered?.();
      this.enqueue(ev, events, fail);
    });
    const answerMs = this.idleTimeoutMs() ?? 30000;
    let timer: NodeJS.Timeout | undefined;
    const started = new Promise<void>((resolve, reject) => {
      answered = (e) => (e ? reject(e) : resolve());
      timer = setTimeout(
        () =>
          reject(
            Object.assign(new Error(`${this.where} did not answer the binlog dump request within ${answerMs} ms`), {
              code: 'ETIMEDOUT',
            }),
          ),
        answerMs,
      );
      session.signal.addEventListener(
        'abort',
        () => reject(new Error('source session ended before the binlog stream started')),
        { once: true },
      );
    }).finally(() => {
      answered = null;
      clearTimeout(timer);
    });
    started.catch(() => undefined); // awaited below; a rejection after a failed start() is no crash
    const includeSchema: Record<string, true> = {};
    for (const db of cfg.database_include) includeSchema[db] = true;
    zongji.start({
      serverId: cfg.server_id,
      ...(start.gtid != null ? { gtidSet: start.gtid } : { filename: start.file!, position: start.pos! }),
      includeEvents: [
        'tablemap',
        'writerows',
        'updaterows',
        'deleterows',
        'xid',
        'query',
        'rotate',
        'gtid',
        'mariadbgtid',
        'heartbeat',
      ],
      includeSchema,
    });
    await started;
    // zongji is stopped in close(), after the session flushed what was read.
    return { lastSeen: () => lastSeen, stop: async () => undefined };
  }

  /** zongji emits synchronously; events are handled strictly in order, pausing the socket when behind. */
  private enqueue(ev: any, events: EventDispatcher<BinlogPosition>, fail: (e: Error) => void) {
    this.queue.push(ev);
    // Only undo our own pause: zongji pauses the socket itself while it fetches table metadata.
    if (this.queue.length > 2000 && !this.paused) {
      this.paused = true;
      this.zongji?.connection?.pause();
    }
    if (this.processing) return;
    this.processing = true;
    const generation = this.generation;
    const current = () => generation === this.generation;
    (async () => {
      try {
        while (current() && this.queue.length) {
          const next = this.queue.shift();
          await this.onEvent(next, events);
          await events.room(); // a huge transaction: the queue fills and pauses the socket
          if (current() && this.paused && this.queue.length < 200) {
            this.paused = false;
            this.zongji?.connection?.resume();
          }
        }
      } catch (e) {
        if (current()) fail(e as Error);
      } finally {
        if (current()) this.processing = false;
      }
    })();
  }

  private position(): { file: string | null; pos: number | null } {
    const o = (this.zongji?.options ?? {}) as { filename?: string; position?: number };
    return { file: o.filename ?? null, pos: o.position ?? null };
  }

  private async commit(events: EventDispatcher<BinlogPosition>) {
    const p = this.position();
    const gtid = this.zongji?.gtidSet;
    const pos: BinlogPosition = { gtid: gtid ?? null, file: p.file, pos: p.pos, ...this.server };
    this.tx = null;
    this.seq++;
    await events.commit(this.seq, pos);
  }

  private async onEvent(ev: any, events: EventDispatcher<BinlogPosition>): Promise<void> {
    const name: string = ev.getEventName();
    switch (name) {
      case 'gtid':
      case 'mariadbgtid': {
        const p = this.position();
        this.tx = { gtid: ev.gtid ?? null, ts: ev.timestamp ?? Date.now(), file: p.file, pos: p.pos };
        return;
      }
      case 'xid':
        await this.commit(events);
        return;
      case 'query': {
        const q = String(ev.query ?? '')
          .trim()
          .toUpperCase();
        if (q === 'BEGIN' || q.startsWith('XA START') || q.startsWith('SAVEPOINT')) return;
        if (q === 'COMMIT' || q === 'ROLLBACK' || q.startsWith('XA COMMIT')) {
          await this.commit(events);
          return;
        }
        // DDL (a standalone group on MariaDB, implicitly committed): columns may have changed; re-read them at the next table map.
        this.staleColumns = true;
        this.onTruncate(String(ev.query ?? ''), String(ev.schema ?? ''), ev.timestamp, events);
        await this.commit(events);
        return;
      }
      case 'tablemap': {
        const key = `${ev.schemaName}.${ev.tableName}`;
        if (!this.captured.has(key) && !(ev.schemaName === this.signalDb && ev.tableName === SIGNAL_TABLE)) return;
        const cols = this.columns.get(key);
        if (this.staleColumns || !cols || cols.length !== ev.columnCount)
          await this.refreshColumns(ev.schemaName, ev.tableName);
        return;
      }
      case 'writerows':
      case 'updaterows':
      case 'deleterows':
        this.onRows(name, ev, events);
        return;
      default:
        return;
    }
  }

  private async refreshColumns(db: string, table: string) {
    if (!this.meta) return;
    if (this.staleColumns) {
      this.columns.clear();
      this.staleColumns = false;
    }
    const cols = await this.loadColumns(this.meta, db, table);
    const t = this.tablesNow.find((x) => x.schema === db && x.table === table);
    if (t) t.columns = cols;
  }

  private onRows(name: string, ev: any, events: EventDispatcher<BinlogPosition>) {
    const tm = ev.tableMap?.[ev.tableId];
    if (!tm) return;
    const db: string = tm.parentSchema;
    const table: string = tm.tableName;
    if (db === this.signalDb && table === SIGNAL_TABLE) {
      this.onSignal(ev, events);
      return;
    }
    const key = `${db}.${table}`;
    if (!this.captured.has(key)) return;
    const cols = this.columns.get(key);
    if (!cols) return;
    const op: Op = name === 'writerows' ? 'c' : name === 'updaterows' ? 'u' : 'd';
    const now = Date.now();
    const source = this.sourceBlock(db, table, ev.timestamp ?? this.tx?.ts ?? now);
    for (const r of ev.rows) {
      const before = op === 'c' ? null : convertRow(cols, op === 'u' ? r.before : r);
      const after = op === 'd' ? null : convertRow(cols, op === 'u' ? r.after : r);
      events.change({ op, before, after, source, columns: cols, ts_ms: now });
    }
  }

  /** The envelope's `source` for a change of the current transaction: its GTID (or file:pos without GTIDs). */
  private sourceBlock(db: string, table: string, ts: number): Envelope['source'] {
    const tx = this.tx;
    return {
      lsn: tx ? (tx.gtid ?? `${tx.file}:${tx.pos}`) : null,
      tx_id: null,
      ts_ms: ts,
      schema: db,
      table,
      snapshot: false,
      gtid: tx?.gtid ?? null,
      file: tx?.file ?? null,
      pos: tx?.pos ?? null,
    };
  }

  snapshotSource(schema: string, table: string, now: number): Envelope['source'] {
    return { lsn: null, tx_id: null, ts_ms: now, schema, table, snapshot: false };
  }

  /** TRUNCATE is a statement in the binlog, not row events: it becomes one op `t` event, as from Postgres. */
  private onTruncate(
    query: string,
    currentDb: string,
    ts: number | undefined,
    events: EventDispatcher<BinlogPosition>,
  ) {
    const m =
      /^\s*TRUNCATE\s+(?:TABLE\s+)?(?:`((?:[^`]|``)+)`|(\w+))(?:\s*\.\s*(?:`((?:[^`]|``)+)`|(\w+)))?\s*;?\s*$/i.exec(
        query,
      );
    if (!m) return;
    const first = (m[1] ?? m[2]).replace(/``/g, '`');
    const second = (m[3] ?? m[4])?.replace(/``/g, '`');
    const db = second ? first : currentDb;
    const table = second ?? first;
    const cols = this.columns.get(`${db}.${table}`);
    if (!this.captured.has(`${db}.${table}`) || !cols) return;
    const now = Date.now();
    events.change({
      op: 't',
      before: null,
      after: null,
      source: this.sourceBlock(db, table, ts ?? now),
      columns: cols,
      ts_ms: now,
    });
  }

  /** Rows of the signal table: this pipeline's watermarks close snapshot windows; heartbeats only advance the position. */
  private onSignal(ev: any, events: EventDispatcher<BinlogPosition>) {
    for (const r of ev.rows) {
      const row = r.after ?? r;
      if (row.id === `hb:${this.ctx.pipelineId}`) {
        events.alive();
        continue;
      }
      if (row.id !== `wm:${this.ctx.pipelineId}`) continue;
      const kind = row.kind === 'low' ? 'low' : row.kind === 'high' ? 'high' : null;
      // The chunk rows join the watermark's own transaction: they go out with its commit.
      if (kind) events.watermark(String(row.wm), kind, this.seq + 1n);
    }
  }

  // ---------- snapshots ----------

  async openSnapshotReader(): Promise<SnapshotReader> {
    const conn = await mysql.createConnection(mysqlConnOptions(this.cfg));
    conn.on('error', () => undefined);
    await conn.query(`SET time_zone = '+00:00'`);
    const colsOf = (t: TableInfo) => this.loadColumns(conn, t.schema, t.table);
    return {
      count: async (t, filter) => {
        const [r] = await conn.query<any[]>(
          `SELECT COUNT(*) AS n FROM ${qt(t.schema, t.table)}${filter ? ` WHERE (${filter})` : ''}`,
        );
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
        const sql =
          `SELECT ${my.map((c) => qi(c.name)).join(', ')} FROM ${qt(t.schema, t.table)}${where.length ? ' WHERE ' + where.join(' AND ') : ''}` +
          (limit ? ` ORDER BY ${keys.map((k) => qi(k.name)).join(', ')} LIMIT ${limit}` : '');
        const [rows] = await conn.query<any[]>(sql, params);
        const out = rows.map((r) => convertRow(my, r)!);
        const last = out[out.length - 1];
        return { rows: out, lastKey: last ? keys.map((k) => last[k.name]) : null };
      },
      lowWatermark: async (w: ChunkWindow) => {
        await this.writeSignal(conn, 'low', 'wm', w.id);
      },
      highWatermark: async (w: ChunkWindow, signal: AbortSignal) => {
        await this.writeSignal(conn, 'high', 'wm', w.id);
        // The stream closes the window when it reads the high watermark; the chunk is done once that commit is acked.
        return await Promise.race([
          w.closed,
          new Promise<bigint>((_, rej) =>
            signal.addEventListener('abort', () => rej(new Error('aborted')), { once: true }),
          ),
        ]);
      },
      close: async () => {
        await Promise.race([conn.end().catch(() => undefined), sleep(3000)]);
        conn.destroy();
      },
    };
  }
}
