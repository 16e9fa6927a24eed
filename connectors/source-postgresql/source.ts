import { Client } from 'pg';
import { pgLogicalReplication } from '../../patches';
import { ColumnInfo, Envelope, Op, keyString } from '../../core/change-event';
import { topicFor } from '../../core/names';
import { sleep } from '../../core/retry';
import type {
  ChangeStream,
  EventDispatcher,
  SnapshotReader,
  SourceConnector,
  SourceContext,
  StartPosition,
  TableInfo,
} from '../module';
import { pgClientConfig, qualified, quoteIdent, DbConnConfig } from '../shared/postgres';
import { tableFilter } from '../shared/table-filter';
import { classifyPgSourceFailure, SlotLostError } from './errors';
import { Lsn, lsnToBigInt } from './position';
import { fromPgText } from './values';

export interface PgSourceConfig extends DbConnConfig {
  schema_include: string[];
  table_include: string[];
  table_exclude: string[];
  slot_name: string;
  publication_name: string;
  heartbeat_interval_ms: number;
  snapshot_mode: 'initial' | 'never' | 'initial_only';
  snapshot_chunk_size: number;
  topic_prefix: string;
  on_slot_loss: 'fail' | 'resnapshot';
}

/**
 * pgoutput with each value converted from its Postgres text by our exact rules (fromPgText) while
 * the tuple is parsed, instead of pg's type parsers: the parsed tuples are the envelope's
 * before/after values as they are (no second object per row). Unchanged TOAST values stay
 * undefined, which the JSON envelope leaves out.
 */
const { LogicalReplicationService, PgoutputPlugin } = pgLogicalReplication();
type LogicalReplicationService = InstanceType<typeof LogicalReplicationService>;

class RawPgoutput extends PgoutputPlugin {
  parse(buffer: Buffer): any {
    const m = super.parse(buffer) as any;
    if (m.tag === 'relation')
      for (const c of m.columns) {
        const oid = c.typeOid;
        c.parser = (x: string) => fromPgText(oid, x);
      }
    return m;
  }
}

/** character(n): its text output keeps the blank padding, its cast to text does not. */
const BPCHAR = 1042;

/** End a node-postgres client politely, or destroy its socket when the network is stalled. */
async function endClient(c: Client): Promise<void> {
  if (
    !(await Promise.race([
      c.end().then(
        () => true,
        () => true,
      ),
      sleep(3000).then(() => false),
    ]))
  )
    (c as any).connection?.stream?.destroy();
}

/**
 * Postgres -> the source session: a logical replication slot streamed with pgoutput (publication of
 * the captured tables), heartbeats and snapshot watermarks as logical messages, commits ordered by
 * LSN and acknowledged to the slot once Kafka has them.
 */
export class PostgresqlSource implements SourceConnector<Lsn> {
  private readonly cfg: PgSourceConfig;
  private meta: Client | null = null;
  private tablesNow: TableInfo[] = [];
  private ackedLsn: Lsn | null = null;
  private service: LogicalReplicationService | null = null;
  private relCols = new Map<number, ColumnInfo[]>();
  private tx: { xid: number; ts: number; lsn: string | null; sources: Map<number, Envelope['source']> } | null = null;

  constructor(private readonly ctx: SourceContext) {
    this.cfg = ctx.cfg as PgSourceConfig;
  }

  async open(fail: (e: Error) => void): Promise<void> {
    const meta = new Client(
      pgClientConfig(this.cfg, { application_name: `sluice-meta-${this.ctx.pipelineId.slice(0, 8)}` }),
    );
    meta.on('error', fail);
    this.meta = meta;
    await meta.connect();
  }

  async close(): Promise<void> {
    this.tx = null;
    const m = this.meta;
    this.meta = null;
    if (m) await endClient(m);
  }

  classify(err: Error) {
    return classifyPgSourceFailure(err);
  }
  idleTimeoutMs() {
    return Number(process.env.SLUICE_SOURCE_IDLE_TIMEOUT_MS ?? 30000);
  }

  // ---------- catalog ----------

  async tables(): Promise<TableInfo[]> {
    this.tablesNow = await this.catalogTables();
    await this.ensurePublication(this.meta!, this.tablesNow);
    return this.tablesNow;
  }

  /** New tables join the publication: changes after that are streamed (a snapshot covers what came before). */
  async discover(): Promise<TableInfo[]> {
    const added = await this.catalogTables(new Set(this.tablesNow.map((t) => t.oid)));
    if (added.length) {
      await this.ensurePublication(this.meta!, [...this.tablesNow, ...added]);
      this.tablesNow = [...this.tablesNow, ...added];
    }
    return this.tablesNow;
  }

  /** The tables the include rules match, with their columns (read only for tables not in `skip`, by oid). */
  private async catalogTables(skip: Set<number> = new Set()): Promise<TableInfo[]> {
    const meta = this.meta!;
    const cfg = this.cfg;
    const r = await meta.query(
      `SELECT n.nspname AS schema, c.relname AS table, c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r','p') AND NOT c.relispartition AND n.nspname = ANY($1) ORDER BY 1, 2`,
      [cfg.schema_include?.length ? cfg.schema_include : ['public']],
    );
    const wanted = tableFilter(cfg.table_include, cfg.table_exclude);
    const out: TableInfo[] = [];
    for (const row of r.rows) {
      if (!wanted(`${row.schema}.${row.table}`) || skip.has(row.oid)) continue;
      out.push({
        schema: row.schema,
        table: row.table,
        oid: row.oid,
        columns: await this.columnsOf(meta, row.oid),
        topic: topicFor(cfg.topic_prefix, row.schema, row.table),
      });
    }
    if (!out.length && !skip.size) throw new Error('no tables to capture: check schema_include / table_include');
    return out;
  }

  private async columnsOf(meta: Client, oid: number): Promise<ColumnInfo[]> {
    const r = await meta.query(
      `SELECT a.attname AS name, a.atttypid::int AS oid, format_type(a.atttypid, a.atttypmod) AS type,
              COALESCE(a.attnum = ANY(i.indkey), false) AS key
       FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
       WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [oid],
    );
    return r.rows.map((x) => ({ name: x.name, oid: x.oid, type: x.type, key: x.key }));
  }

  private async ensurePublication(meta: Client, tables: TableInfo[]): Promise<void> {
    const cfg = this.cfg;
    const pub = await meta.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [cfg.publication_name]);
    const list = tables.map((t) => qualified(t.schema, t.table));
    if (!pub.rows.length) {
      await meta
        .query(`CREATE PUBLICATION ${quoteIdent(cfg.publication_name)} FOR TABLE ${list.join(', ')}`)
        .catch((e) => {
          if (e.code !== '42710') throw e;
        });
      return;
    }
    const have = await meta.query(`SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`, [
      cfg.publication_name,
    ]);
    const set = new Set(have.rows.map((r) => `${r.schemaname}.${r.tablename}`));
    const add = tables.filter((t) => !set.has(`${t.schema}.${t.table}`));
    if (add.length)
      await meta.query(
        `ALTER PUBLICATION ${quoteIdent(cfg.publication_name)} ADD TABLE ${add.map((t) => qualified(t.schema, t.table)).join(', ')}`,
      );
  }

  // ---------- position ----------

  /** The slot's confirmed LSN; creates the slot on first start; a lost slot is an error unless on_slot_loss=resnapshot. */
  async startPosition(): Promise<StartPosition<Lsn>> {
    const cfg = this.cfg;
    const meta = this.meta!;
    const st = await this.ctx.offsets.load();
    const established = !!st?.established && st.slot === cfg.slot_name;
    const r = await meta.query(
      'SELECT confirmed_flush_lsn::text AS lsn, wal_status FROM ' +
        'pg_replication_slots WHERE slot_name = $1 AND database = ' +
        'current_database()',
      [cfg.slot_name],
    );
    if (r.rows.length && r.rows[0].wal_status !== 'lost') {
      this.ackedLsn = r.rows[0].lsn;
      return { position: r.rows[0].lsn, seq: lsnToBigInt(r.rows[0].lsn), fresh: null };
    }
    const lost = r.rows.length > 0 || established; // invalidated, or missing after it was established
    if (lost && cfg.on_slot_loss !== 'resnapshot')
      throw new SlotLostError(`replication slot ${cfg.slot_name} is ${r.rows.length ? 'invalidated' : 'missing'}`);
    if (r.rows.length) await meta.query(`SELECT pg_drop_replication_slot($1)`, [cfg.slot_name]);
    const c = await meta.query(`SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [
      cfg.slot_name,
    ]);
    const lsn: Lsn = c.rows[0].lsn;
    await this.ctx.offsets.establish(cfg.slot_name, lsn);
    this.ctx.log[lost ? 'warn' : 'info'](
      { slot: cfg.slot_name, lsn, resnapshot: lost },
      lost
        ? 'replication slot was lost: recreated it; a snapshot of every captured table closes the gap'
        : 'replication slot created',
    );
    this.ackedLsn = lsn;
    return { position: lsn, seq: lsnToBigInt(lsn), fresh: lost ? 'lost' : 'new' };
  }

  async acknowledge(lsn: Lsn): Promise<void> {
    this.ackedLsn = lsn;
    await this.service?.acknowledge(lsn).catch(() => undefined);
  }

  async lag(): Promise<number | null> {
    const r = await this.meta!.query(
      'SELECT wal_status, (pg_current_wal_lsn() - ' +
        'confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE ' +
        'slot_name = $1',
      [this.cfg.slot_name],
    );
    if (!r.rows.length || r.rows[0].wal_status === 'lost') throw new SlotLostError('slot missing or invalidated');
    return Number(r.rows[0].lag ?? 0);
  }

  async heartbeat(): Promise<void> {
    await this.meta!.query(`SELECT pg_logical_emit_message(true, 'sluice_hb', '')`);
  }

  /** initial_only done: the slot goes (no WAL kept for a source that streams no more). */
  async release(): Promise<void> {
    await this.dropSlotIfAny();
    this.ctx.log.info({ slot: this.cfg.slot_name }, 'initial_only: replication slot dropped');
  }

  /** A slot left behind by a crash between recording the release and dropping it. */
  async afterRelease(): Promise<void> {
    await this.dropSlotIfAny();
  }

  private async dropSlotIfAny(): Promise<void> {
    // The walsender may take a moment to let go of the slot after the stream stopped.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.meta!.query(
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
          [this.cfg.slot_name],
        );
        return;
      } catch (e) {
        if (attempt >= 20 || !/is active/i.test((e as Error).message)) throw e;
        await sleep(250);
      }
    }
  }

  // ---------- stream ----------

  async stream(
    from: StartPosition<Lsn>,
    events: EventDispatcher<Lsn>,
    { fail }: { fail: (e: Error) => void },
  ): Promise<ChangeStream> {
    const cfg = this.cfg;
    this.tx = null;
    const service = new LogicalReplicationService(
      pgClientConfig(cfg, { application_name: `sluice-${this.ctx.pipelineId.slice(0, 8)}`, query_timeout: undefined }),
      {
        // Manual acknowledgement only: the library's keepalive timer would acknowledge what was merely received.
        acknowledge: { auto: false, timeoutSeconds: 0 },
        flowControl: { enabled: true },
      },
    );
    this.service = service;
    let lastSeen = Date.now();
    service.on('error', (e: Error) => fail(e));
    service.on('heartbeat', (_lsn: string, _ts: number, shouldRespond: boolean) => {
      lastSeen = Date.now();
      // Keepalives are answered with the durable (Kafka-acknowledged) LSN, never the received one.
      if (shouldRespond && this.ackedLsn) service.acknowledge(this.ackedLsn).catch(() => undefined);
    });
    service.on('data', async (_lsn: string, msg: any) => {
      lastSeen = Date.now();
      await this.onMessage(msg, events);
    });
    const idleMs = this.idleTimeoutMs();
    // The server closes a replication connection that never reports progress: report the durable LSN regularly.
    const keepalive = setInterval(
      () => {
        if (this.ackedLsn) service.acknowledge(this.ackedLsn, true).catch(() => undefined);
      },
      Math.max(1000, Math.floor(idleMs / 4)),
    );
    const plugin = new RawPgoutput({ protoVersion: 1, publicationNames: [cfg.publication_name], messages: true });
    const streaming = service.subscribe(plugin, cfg.slot_name, from.position).catch((e: Error) => fail(e));
    this.ctx.log.debug({ slot: cfg.slot_name, lsn: from.position }, 'replication stream started');
    let stopped: Promise<void> | null = null;
    return {
      lastSeen: () => lastSeen,
      stop: () =>
        (stopped ??= (async () => {
          clearInterval(keepalive);
          // A stalled socket never completes a polite close: bound it, then destroy the socket.
          const ok = await Promise.race([
            service.stop().then(
              () => true,
              () => true,
            ),
            sleep(3000).then(() => false),
          ]);
          if (!ok) (service as any)._client?.connection?.stream?.destroy();
          if (this.service === service) this.service = null;
          await Promise.race([streaming, sleep(3000)]);
        })()),
    };
  }

  /** format_type() of a type oid and modifier, as the catalog query writes it; cached (types do not change). */
  private typeNames = new Map<string, string>();
  private async typeName(oid: number, mod: number): Promise<string | null> {
    const k = `${oid}:${mod}`;
    const have = this.typeNames.get(k);
    if (have !== undefined) return have;
    if (!this.meta) return null;
    const r = await this.meta.query(
      `SELECT format_type($1::oid, $2::int) AS t, EXISTS (SELECT 1 FROM pg_type WHERE oid = $1::oid) AS known`,
      [oid, mod],
    );
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
      cols.push({
        name: c.name,
        oid: c.typeOid,
        type,
        key: k ? k.key : msg.replicaIdentity === 'default' && (c.flags & 1) === 1,
      });
    }
    this.relCols.set(msg.relationOid, cols!);
    const t = this.tablesNow.find((x) => x.oid === msg.relationOid);
    if (t) t.columns = cols!;
    return cols!;
  }

  /** The `source` block of a stream event: one (never changed) object per transaction and table, so the envelope encoder renders it once. */
  private sourceOf(rel: { relationOid: number; schema: string; name: string }, now: number): Envelope['source'] {
    let src = this.tx?.sources.get(rel.relationOid);
    if (!src) {
      src = {
        lsn: this.tx?.lsn ?? null,
        tx_id: this.tx?.xid ?? null,
        ts_ms: this.tx?.ts ?? now,
        schema: rel.schema,
        table: rel.name,
        snapshot: false,
      };
      this.tx?.sources.set(rel.relationOid, src);
    }
    return src;
  }

  snapshotSource(schema: string, table: string, now: number): Envelope['source'] {
    return { lsn: null, tx_id: this.tx?.xid ?? null, ts_ms: now, schema, table, snapshot: false };
  }

  private async onMessage(msg: any, events: EventDispatcher<Lsn>): Promise<void> {
    switch (msg.tag) {
      case 'begin':
        this.tx = {
          xid: msg.xid,
          ts: Number(BigInt(msg.commitTime) / 1000n),
          lsn: msg.commitLsn ?? null,
          sources: new Map(),
        };
        return;
      case 'relation':
        await this.relationColumns(msg, true);
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        const rel = msg.relation;
        const cols = await this.relationColumns(rel);
        const op: Op = msg.tag === 'insert' ? 'c' : msg.tag === 'update' ? 'u' : 'd';
        const before: Record<string, unknown> | null = msg.old ?? msg.key ?? null;
        const after: Record<string, unknown> | null = op === 'd' ? null : msg.new;
        const now = Date.now();
        events.change({
          op,
          before: op === 'c' ? null : before,
          after,
          source: this.sourceOf(rel, now),
          columns: cols,
          ts_ms: now,
        });
        await events.room(); // a huge transaction: the stream waits (flow control)
        return;
      }
      case 'truncate': {
        const now = Date.now();
        for (const rel of msg.relations) {
          const cols = await this.relationColumns(rel);
          events.change({
            op: 't',
            before: null,
            after: null,
            source: this.sourceOf(rel, now),
            columns: cols,
            ts_ms: now,
          });
        }
        return;
      }
      case 'message': {
        // A heartbeat counts as a source event (as in the MySQL source): alerts on a silent source rely on it.
        if (msg.prefix === 'sluice_hb') {
          events.alive();
          return;
        }
        if (msg.prefix !== 'sluice_wm') return;
        const wm = JSON.parse(Buffer.from(msg.content).toString('utf8')) as { id: string; kind: 'low' | 'high' };
        // High watermark: the chunk rows nobody changed inside the window go out here, in stream order.
        events.watermark(wm.id, wm.kind, 0n);
        return;
      }
      case 'commit': {
        this.tx = null;
        await events.commit(lsnToBigInt(msg.commitEndLsn), msg.commitEndLsn);
        return;
      }
      default:
        return;
    }
  }

  // ---------- snapshots ----------

  /** Postgres side of the incremental snapshot: chunks read as text, watermarks as logical messages. */
  async openSnapshotReader(): Promise<SnapshotReader> {
    const meta = new Client(pgClientConfig(this.cfg, { application_name: 'sluice-snapshot' }));
    meta.on('error', () => undefined);
    await meta.connect();
    return {
      count: async (t, filter) => {
        const est = await meta.query(
          `SELECT count(*)::bigint AS n FROM ${qualified(t.schema, t.table)}${filter ? ` WHERE (${filter})` : ''}`,
        );
        return Number(est.rows[0].n);
      },
      columns: (t) => this.columnsOf(meta, t.oid),
      readChunk: async (t, cols, lastKey, filter, limit) => {
        const keys = cols.filter((c) => c.key);
        const keyIdx = keys.map((k) => cols.indexOf(k));
        // Qualified with the alias t: an unqualified ORDER BY would sort by the ::text output columns.
        // char(n) as it is: a cast to text strips its padding, which the stream (the output function) keeps;
        // node-postgres leaves bpchar values as the server's text.
        const sel = cols
          .map((c) => `t.${quoteIdent(c.name)}${c.oid === BPCHAR ? '' : '::text'} AS ${quoteIdent(c.name)}`)
          .join(', ');
        const where: string[] = [];
        const params: unknown[] = [];
        if (limit && lastKey) {
          where.push(
            `(${keys.map((k) => 't.' + quoteIdent(k.name)).join(', ')}) > (${keys
              .map((k, i) => {
                params.push(lastKey[i]);
                return `$${i + 1}::${k.type}`;
              })
              .join(', ')})`,
          );
        }
        if (filter) where.push(`(${filter})`);
        const sql =
          `SELECT ${sel} FROM ${qualified(t.schema, t.table)} t${where.length ? ' WHERE ' + where.join(' AND ') : ''}` +
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
        const params = keys.map((k) =>
          keyRows.map((r) => {
            const v = r[k.name];
            return v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);
          }),
        );
        // Which of the given keys matched (by position): compared as given, never re-rendered by the
        // server, so a different DateStyle or bytea_output cannot make an existing row look absent.
        const sql =
          `SELECT DISTINCT k.n FROM ${qualified(t.schema, t.table)} t ` +
          (`JOIN unnest(${keys.map((_, i) => `$${i + 1}::text[]`).join(', ')}) WITH ORDINALITY AS k(${keys.map((_, i) => `c${i}`).join(', ')}, ` +
            `n) ON ${keys.map((k, i) => `t.${quoteIdent(k.name)} = k.c${i}::${k.type}`).join(' AND ')}`);
        const res = await meta.query<{ n: string }>(sql, params);
        return new Set(res.rows.map((x) => keyString(cols, keyRows[Number(x.n) - 1])));
      },
      lowWatermark: async (w) => {
        await meta.query(`SELECT pg_logical_emit_message(true, 'sluice_wm', $1)`, [
          JSON.stringify({ id: w.id, kind: 'low' }),
        ]);
      },
      highWatermark: async (w) => {
        const hi = await meta.query(`SELECT pg_logical_emit_message(true, 'sluice_wm', $1)::text AS lsn`, [
          JSON.stringify({ id: w.id, kind: 'high' }),
        ]);
        return lsnToBigInt(hi.rows[0].lsn) + 1n;
      },
      close: () => endClient(meta),
    };
  }
}
