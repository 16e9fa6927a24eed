import { Pool, PoolClient } from 'pg';
import { Logger } from 'pino';
import { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ColumnInfo, Envelope, keyString, qualified, quoteIdent, toPgParam } from './envelope';
import { DbConnConfig, backoff, isConnectionError, pgClientConfig, sleep } from './pgconn';
import { TransformDef, TransformError, buildChain } from './transforms';
import { metrics } from './metrics';

export interface DestConfig extends DbConnConfig {
  schema: string; table_name_format: string; ingestion_mode: 'upsert' | 'append'; hard_delete: boolean; batch_size: number; flush_interval_ms: number;
}
export interface Delivery { max_retries: number; backoff_initial_ms: number; backoff_max_ms: number }

export interface SinkStatus { state: 'starting' | 'running' | 'broken' | 'stopped'; reason: string | null; lag: number | null; last_write_at: string | null; broken_since?: number | null; partitions?: Record<string, number> }

export interface SinkRunnerOpts {
  pipelineId: string; /** Destination kind (postgresql | mysql): picks the writer. */ kind: string; cfg: DestConfig; mode: 'upsert' | 'append'; topics: string[]; kafka: Kafka; producer: Producer; admin: Admin;
  control: DataSource; log: Logger; signal: AbortSignal; delivery: Delivery; transforms: TransformDef[]; graceMs: number; topicPrefix: string;
}

interface Rec { topic: string; partition: number; offset: string; key: string | null; raw: string; cols: string | null; env: Envelope | null }

class Aborted extends Error {}

export const groupIdFor = (pipelineId: string) => `sluice-${pipelineId}`;
export const dlqTopicFor = (pipelineId: string) => `sluice.dlq.${pipelineId}`;

/** Kafka -> transforms -> Postgres. Offsets are committed only after the write (or DLQ write) that covers them. */
export class SinkRunner {
  status: SinkStatus = { state: 'starting', reason: null, lag: null, last_write_at: null, broken_since: null };
  private pool: Pool;
  private known = new Map<string, Set<string>>();
  private chain: ReturnType<typeof buildChain>;
  private consumer: Consumer | null = null;
  private unreachableSince: number | null = null;

  constructor(private o: SinkRunnerOpts) {
    this.pool = new Pool({ ...pgClientConfig(o.cfg, { application_name: `sluice-sink-${o.pipelineId.slice(0, 8)}` }), max: 2, idleTimeoutMillis: 10000 });
    this.pool.on('error', () => undefined);
    this.chain = buildChain(o.transforms);
  }

  private colsCache = new Map<string, ColumnInfo[]>();
  /** Envelope from the record value, with its column types from the `sluice.columns` header (parsed once per distinct header). */
  private decode(r: Rec): Envelope | null {
    const env = JSON.parse(r.raw) as Envelope | null;
    if (!env) return null;
    if (r.cols) {
      let cols = this.colsCache.get(r.cols);
      if (!cols) { cols = JSON.parse(r.cols) as ColumnInfo[]; if (this.colsCache.size > 1000) this.colsCache.clear(); this.colsCache.set(r.cols, cols); }
      // Shared: transforms replace the list (never mutate its entries).
      env.columns = cols;
    } else env.columns = env.columns ?? [];
    return env;
  }

  tableFor(schema: string, table: string): string {
    return this.o.cfg.table_name_format.replace(/\{schema\}/g, schema).replace(/\{table\}/g, table).replace(/\{topic_prefix\}/g, this.o.topicPrefix);
  }

  async run(): Promise<void> {
    const o = this.o;
    await this.ensureDlqTopic();
    const consumer = o.kafka.consumer({ groupId: groupIdFor(o.pipelineId), maxBytesPerPartition: 2 * 1024 * 1024, maxBytes: 8 * 1024 * 1024, sessionTimeout: Number(process.env.SLUICE_CONSUMER_SESSION_TIMEOUT_MS ?? 10000), heartbeatInterval: 1000, maxWaitTimeInMs: 50, retry: { retries: 1000000, initialRetryTime: 300, maxRetryTime: 5000 } });
    this.consumer = consumer;
    let crashed: Error | null = null;
    consumer.on(consumer.events.CRASH, (e: any) => { crashed = e?.payload?.error ?? new Error('consumer crashed'); });
    const lagTimer = setInterval(() => { this.updateLag().catch(() => undefined); }, 2000);
    const replayTimer = setInterval(() => { this.replayRequested().catch((e) => o.log.warn({ err: (e as Error).message }, 'DLQ replay failed')); }, 1000);
    try {
      while (!o.signal.aborted) {
        try {
          await consumer.connect();
          await consumer.subscribe({ topics: o.topics, fromBeginning: true });
          crashed = null;
          await consumer.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: 1,
            eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
              const recs: Rec[] = batch.messages.map((m) => ({ topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key?.toString() ?? null, raw: m.value?.toString() ?? 'null', cols: m.headers?.['sluice.columns']?.toString() ?? null, env: null }));
              const size = Math.max(1, o.cfg.batch_size);
              for (let i = 0; i < recs.length; i += size) {
                if (!isRunning() || isStale() || o.signal.aborted) return;
                const slice = recs.slice(i, i + size);
                try {
                  await this.deliver(slice, heartbeat);
                } catch (e) {
                  if (e instanceof Aborted) return;
                  throw e;
                }
                const last = slice[slice.length - 1].offset;
                await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
                resolveOffset(last);
                await heartbeat().catch(() => undefined);
              }
            },
          });
          this.status.state = 'running';
          // consumer.run returns once fetching started; watch for a crash or shutdown.
          while (!o.signal.aborted && !crashed) await sleep(200, o.signal);
          if (crashed) throw crashed;
        } catch (e) {
          if (o.signal.aborted) break;
          this.status.reason = `kafka: ${(e as Error).message}`;
          o.log.warn({ err: (e as Error).message }, 'sink consumer failed; restarting it');
          await consumer.disconnect().catch(() => undefined);
          await sleep(1000, o.signal);
        }
      }
    } finally {
      clearInterval(lagTimer);
      clearInterval(replayTimer);
      await consumer.disconnect().catch(() => undefined);
      this.chain.dispose();
      await this.pool.end().catch(() => undefined);
      this.status.state = 'stopped';
    }
  }

  private async ensureDlqTopic() {
    const t = dlqTopicFor(this.o.pipelineId);
    const existing = await this.o.admin.listTopics();
    if (!existing.includes(t)) await this.o.admin.createTopics({ topics: [{ topic: t, numPartitions: 1, replicationFactor: -1 }] }).catch(() => undefined);
  }

  private async updateLag() {
    const o = this.o;
    const committed = await o.admin.fetchOffsets({ groupId: groupIdFor(o.pipelineId), topics: o.topics });
    let total = 0;
    const parts: Record<string, number> = {};
    for (const t of committed) {
      const ends = await o.admin.fetchTopicOffsets(t.topic);
      for (const p of t.partitions) {
        const end = Number(ends.find((x) => x.partition === p.partition)?.high ?? 0);
        const low = Number(ends.find((x) => x.partition === p.partition)?.low ?? 0);
        const at = Number(p.offset) < 0 ? low : Number(p.offset);
        parts[`${t.topic}/${p.partition}`] = Math.max(0, end - at);
        total += Math.max(0, end - at);
      }
    }
    this.status.lag = total;
    this.status.partitions = parts;
  }

  private markUnreachable(e: Error) {
    this.unreachableSince = this.unreachableSince ?? Date.now();
    if (Date.now() - this.unreachableSince >= this.o.graceMs) {
      if (this.status.state !== 'broken') this.status.broken_since = Date.now();
      this.status.state = 'broken';
      this.status.reason = `destination_unreachable: ${e.message}`;
    }
  }
  private markHealthy() {
    this.unreachableSince = null;
    if (this.status.state === 'broken' || this.status.state === 'starting') { this.status.state = 'running'; this.status.reason = null; this.status.broken_since = null; }
    this.status.last_write_at = new Date().toISOString();
  }

  /** Writes a slice: unreachable destination = retry without limit; a rejected record = retries, then DLQ. */
  private async deliver(recs: Rec[], heartbeat: () => Promise<void>): Promise<void> {
    const good: Rec[] = [];
    const poison: { rec: Rec; err: Error }[] = [];
    for (const r of recs) {
      try {
        const env = this.decode(r);
        r.env = env ? this.chain.apply(env) : null;
        if (r.env) good.push(r);
      } catch (e) { poison.push({ rec: r, err: e as Error }); }
    }
    if (good.length) {
      try {
        await this.withConnRetry(() => this.write(good.map((g) => g.env!), good), heartbeat);
      } catch (e) {
        if (e instanceof Aborted) throw e;
        // A record the destination rejects: find it by writing one at a time, in order.
        for (const g of good) {
          try { await this.withConnRetry(() => this.write([g.env!], [g]), heartbeat); } catch (e2) {
            if (e2 instanceof Aborted) throw e2;
            await this.retryThenDlq(g, e2 as Error, heartbeat);
          }
        }
      }
    }
    for (const p of poison) await this.retryThenDlq(p.rec, p.err, heartbeat);
  }

  private async retryThenDlq(rec: Rec, firstErr: Error, heartbeat: () => Promise<void>) {
    const d = this.o.delivery;
    let err = firstErr;
    let attempts = 1;
    while (attempts <= d.max_retries) {
      metrics.retries.inc({ pipeline: this.o.pipelineId, kind: 'record' });
      await sleep(backoff(attempts, d.backoff_initial_ms, d.backoff_max_ms), this.o.signal);
      if (this.o.signal.aborted) throw new Aborted();
      await heartbeat().catch(() => undefined);
      attempts++;
      try {
        const env = this.chain.apply(this.decode(rec)!);
        if (env) await this.withConnRetry(() => this.write([env], [rec]), heartbeat);
        return;
      } catch (e) { if (e instanceof Aborted) throw e; err = e as Error; }
    }
    await this.toDlq(rec, err, attempts, heartbeat);
  }

  private async toDlq(rec: Rec, err: Error, attempts: number, heartbeat: () => Promise<void>) {
    const o = this.o;
    const cls = err instanceof TransformError ? 'transform_error' : (err as any).code ? `pg_${(err as any).code}` : err.name || 'Error';
    let attempt = 0;
    while (true) {
      try {
        await o.producer.send({
          topic: dlqTopicFor(o.pipelineId), acks: -1,
          messages: [{ key: rec.key, value: rec.raw, headers: { ...(rec.cols ? { 'sluice.columns': rec.cols } : {}),
            'sluice.error.class': cls, 'sluice.error.message': err.message.slice(0, 2000), 'sluice.attempts': String(attempts),
            'sluice.original.topic': rec.topic, 'sluice.original.partition': String(rec.partition), 'sluice.original.offset': rec.offset } }],
        });
        await o.control.query(
          `INSERT INTO dlq_records (pipeline_id, topic, kafka_partition, kafka_offset, record_key, record_value, error_class, error_message, attempts)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (pipeline_id, topic, kafka_partition, kafka_offset) DO NOTHING`,
          [o.pipelineId, rec.topic, rec.partition, rec.offset, rec.key, JSON.stringify({ ...JSON.parse(rec.raw), columns: rec.cols ? JSON.parse(rec.cols) : [] }), cls, err.message.slice(0, 2000), attempts]);
        metrics.dlq.inc({ pipeline: o.pipelineId });
        o.log.warn({ pipeline_id: o.pipelineId, topic: rec.topic, partition: rec.partition, offset: rec.offset, error_class: cls, err: err.message }, 'record sent to the DLQ');
        return;
      } catch (e) {
        attempt++;
        if (o.signal.aborted) throw new Aborted();
        o.log.warn({ err: (e as Error).message }, 'DLQ write failed; retrying');
        await heartbeat().catch(() => undefined);
        await sleep(backoff(attempt, 200, 5000), o.signal);
      }
    }
  }

  private async withConnRetry<T>(f: () => Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
    let attempt = 0;
    while (true) {
      if (this.o.signal.aborted) throw new Aborted();
      try {
        const r = await f();
        this.markHealthy();
        return r;
      } catch (e) {
        if (!isConnectionError(e)) throw e;
        attempt++;
        metrics.retries.inc({ pipeline: this.o.pipelineId, kind: 'connection' });
        this.markUnreachable(e as Error);
        if (attempt === 1 || attempt % 10 === 0) this.o.log.warn({ err: (e as Error).message, attempt }, 'destination unreachable; retrying without limit');
        await heartbeat().catch(() => undefined);
        await sleep(backoff(attempt, 200, 3000), this.o.signal);
      }
    }
  }

  // ---------- writing ----------

  private async ensureTable(c: PoolClient, table: string, columns: ColumnInfo[]) {
    const cfg = this.o.cfg;
    const full = `${cfg.schema}.${table}`;
    let have = this.known.get(full);
    if (!have) {
      const r = await c.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, [cfg.schema, table]);
      have = new Set(r.rows.map((x) => x.column_name));
      if (!have.size) {
        const append = this.o.mode === 'append';
        const keys = columns.filter((k) => k.key);
        const defs = columns.map((col) => `${quoteIdent(col.name)} ${col.type}`);
        if (append) defs.push('_sluice_op text NOT NULL', '_sluice_source_ts timestamptz', '_sluice_offset bigint NOT NULL', '_sluice_ingested_at timestamptz NOT NULL DEFAULT now()');
        else {
          if (!cfg.hard_delete) defs.push('_sluice_deleted boolean NOT NULL DEFAULT false');
          if (keys.length) defs.push(`PRIMARY KEY (${keys.map((k) => quoteIdent(k.name)).join(', ')})`);
        }
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(cfg.schema)}`).catch(() => undefined);
        await c.query(`CREATE TABLE IF NOT EXISTS ${qualified(cfg.schema, table)} (${defs.join(', ')})`);
        this.o.log.info({ table: full }, 'destination table created');
        have = new Set([...columns.map((x) => x.name), ...(append ? ['_sluice_op', '_sluice_source_ts', '_sluice_offset', '_sluice_ingested_at'] : cfg.hard_delete ? [] : ['_sluice_deleted'])]);
      }
      this.known.set(full, have);
    }
    for (const col of columns) {
      if (have.has(col.name)) continue;
      await c.query(`ALTER TABLE ${qualified(cfg.schema, table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(col.name)} ${col.type}`);
      this.o.log.info({ table: full, column: col.name }, 'destination column added');
      have.add(col.name);
    }
  }

  private async write(envs: Envelope[], recs: Rec[]): Promise<void> {
    const started = process.hrtime.bigint();
    const c = await this.pool.connect();
    let broken = false;
    try {
      // Group by destination table, keep order inside each.
      const byTable = new Map<string, { envs: Envelope[]; offsets: string[] }>();
      envs.forEach((e, i) => {
        const t = this.tableFor(e.source.schema, e.source.table);
        let g = byTable.get(t); if (!g) byTable.set(t, (g = { envs: [], offsets: [] }));
        g.envs.push(e); g.offsets.push(recs[i]?.offset ?? '0');
      });
      for (const [table, g] of byTable) {
        const cols = new Map<string, ColumnInfo>();
        for (const e of g.envs) for (const col of e.columns ?? []) cols.set(col.name, col);
        try { await this.ensureTable(c, table, [...cols.values()]); } catch (e) { this.known.delete(`${this.o.cfg.schema}.${table}`); throw e; }
      }
      await c.query('BEGIN');
      for (const [table, g] of byTable) {
        if (this.o.mode === 'append') await this.writeAppend(c, table, g.envs, g.offsets);
        else await this.writeUpsert(c, table, g.envs);
      }
      await c.query('COMMIT');
      metrics.eventsOut.inc({ pipeline: this.o.pipelineId }, envs.length);
      metrics.writeLatency.observe({ pipeline: this.o.pipelineId }, Number(process.hrtime.bigint() - started) / 1e9);
    } catch (e) {
      broken = isConnectionError(e);
      await c.query('ROLLBACK').catch(() => { broken = true; });
      if ((e as any)?.code === '42P01' || (e as any)?.code === '42703') this.known.clear();
      throw e;
    } finally {
      c.release(broken ? true : undefined);
    }
  }

  private colType(e: Envelope, name: string): string {
    return e.columns.find((c) => c.name === name)?.type ?? 'text';
  }

  private async insertRows(c: PoolClient, table: string, rows: { row: Record<string, unknown>; types: Record<string, string> }[], conflict: string) {
    if (!rows.length) return;
    const colNames = Object.keys(rows[0].row);
    const perStmt = Math.max(1, Math.floor(60000 / Math.max(1, colNames.length)));
    for (let i = 0; i < rows.length; i += perStmt) {
      const part = rows.slice(i, i + perStmt);
      const params: unknown[] = [];
      const values = part.map((r) => '(' + colNames.map((n) => { params.push(toPgParam(r.row[n], r.types[n])); return `$${params.length}::${r.types[n]}`; }).join(', ') + ')');
      await c.query(`INSERT INTO ${qualified(this.o.cfg.schema, table)} (${colNames.map(quoteIdent).join(', ')}) VALUES ${values.join(', ')} ${conflict}`, params);
    }
  }

  private async writeAppend(c: PoolClient, table: string, envs: Envelope[], offsets: string[]) {
    const groups = new Map<string, { row: Record<string, unknown>; types: Record<string, string> }[]>();
    envs.forEach((e, i) => {
      if (e.op === 't') return;
      const img = (e.op === 'd' ? e.before : e.after) ?? {};
      const types: Record<string, string> = {};
      const row: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(img)) { row[k] = v; types[k] = this.colType(e, k); }
      row._sluice_op = e.op; types._sluice_op = 'text';
      row._sluice_source_ts = new Date(e.source.ts_ms).toISOString(); types._sluice_source_ts = 'timestamptz';
      row._sluice_offset = offsets[i]; types._sluice_offset = 'bigint';
      const sig = Object.keys(row).join(',');
      let g = groups.get(sig); if (!g) groups.set(sig, (g = [])); g.push({ row, types });
    });
    for (const rows of groups.values()) await this.insertRows(c, table, rows, '');
  }

  private async writeUpsert(c: PoolClient, table: string, envs: Envelope[]) {
    const cfg = this.o.cfg;
    const sample = envs.find((e) => e.columns?.length) ?? envs[0];
    const keyCols = (sample.columns ?? []).filter((k) => k.key);
    const target = qualified(cfg.schema, table);
    if (!keyCols.length) {
      // No primary key: nothing to merge on; inserts are appended.
      const rows = envs.filter((e) => e.after && e.op !== 'u').map((e) => { const types: Record<string, string> = {}; for (const k of Object.keys(e.after!)) types[k] = this.colType(e, k); return { row: { ...e.after! }, types }; });
      const bySig = new Map<string, typeof rows>();
      for (const r of rows) { const s = Object.keys(r.row).join(','); let g = bySig.get(s); if (!g) bySig.set(s, (g = [])); g.push(r); }
      for (const g of bySig.values()) await this.insertRows(c, table, g, '');
      return;
    }
    let pending = new Map<string, { op: 'u' | 'd'; row: Record<string, unknown>; e: Envelope }>();
    const flush = async () => {
      const upserts = new Map<string, { row: Record<string, unknown>; types: Record<string, string> }[]>();
      const deletes: { row: Record<string, unknown>; e: Envelope }[] = [];
      for (const p of pending.values()) {
        if (p.op === 'd') { deletes.push(p); continue; }
        const row = { ...p.row };
        const types: Record<string, string> = {};
        for (const k of Object.keys(row)) types[k] = this.colType(p.e, k);
        if (!cfg.hard_delete) { row._sluice_deleted = false; types._sluice_deleted = 'boolean'; }
        const sig = Object.keys(row).join(',');
        let g = upserts.get(sig); if (!g) upserts.set(sig, (g = [])); g.push({ row, types });
      }
      if (deletes.length) {
        if (cfg.hard_delete) {
          const params: unknown[] = [];
          const tuples = deletes.map((d) => '(' + keyCols.map((k) => { params.push(toPgParam(d.row[k.name], k.type)); return `$${params.length}::${k.type}`; }).join(', ') + ')');
          await c.query(`DELETE FROM ${target} WHERE (${keyCols.map((k) => quoteIdent(k.name)).join(', ')}) IN (${tuples.join(', ')})`, params);
        } else {
          const rows = deletes.map((d) => { const row: Record<string, unknown> = {}; const types: Record<string, string> = {};
            for (const k of keyCols) { row[k.name] = d.row[k.name]; types[k.name] = k.type; } row._sluice_deleted = true; types._sluice_deleted = 'boolean'; return { row, types }; });
          await this.insertRows(c, table, rows, `ON CONFLICT (${keyCols.map((k) => quoteIdent(k.name)).join(', ')}) DO UPDATE SET _sluice_deleted = true`);
        }
      }
      for (const rows of upserts.values()) {
        const names = Object.keys(rows[0].row).filter((n) => !keyCols.some((k) => k.name === n));
        const set = names.length ? `DO UPDATE SET ${names.map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`).join(', ')}` : 'DO NOTHING';
        await this.insertRows(c, table, rows, `ON CONFLICT (${keyCols.map((k) => quoteIdent(k.name)).join(', ')}) ${set}`);
      }
      pending = new Map();
    };
    for (const e of envs) {
      if (e.op === 't') {
        await flush();
        if (cfg.hard_delete) await c.query(`DELETE FROM ${target}`);
        else await c.query(`UPDATE ${target} SET _sluice_deleted = true`);
        continue;
      }
      if (e.op === 'd') {
        if (!e.before) continue;
        const k = keyString(keyCols, e.before);
        pending.delete(k);
        pending.set(k, { op: 'd', row: e.before, e });
        continue;
      }
      if (!e.after) continue;
      const k = keyString(keyCols, e.after);
      if (e.op === 'u' && e.before) {
        const old = keyString(keyCols, e.before);
        if (old !== k && keyCols.every((kc) => e.before![kc.name] !== undefined)) { pending.delete(old); pending.set(old, { op: 'd', row: e.before, e }); }
      }
      const prev = pending.get(k);
      const row = prev && prev.op === 'u' ? { ...prev.row, ...e.after } : { ...e.after };
      pending.delete(k);
      pending.set(k, { op: 'u', row, e });
    }
    await flush();
  }

  // ---------- DLQ replay ----------

  private async replayRequested() {
    const o = this.o;
    const rows = await o.control.query(`SELECT * FROM dlq_records WHERE pipeline_id = $1 AND status = 'replay_requested' ORDER BY id LIMIT 500`, [o.pipelineId]);
    for (const r of rows) {
      const rec: Rec = { topic: r.topic, partition: r.kafka_partition, offset: String(r.kafka_offset), key: r.record_key, raw: JSON.stringify(r.record_value), cols: null, env: null };
      try {
        const env = this.chain.apply(r.record_value as Envelope);
        if (env) await this.write([env], [rec]);
        await o.control.query(`UPDATE dlq_records SET status = 'replayed', updated_at = now() WHERE id = $1`, [r.id]);
        o.log.info({ dlq_id: Number(r.id) }, 'DLQ record replayed');
      } catch (e) {
        await o.control.query(`UPDATE dlq_records SET status = 'pending', attempts = attempts + 1, error_message = $2, updated_at = now() WHERE id = $1`, [r.id, (e as Error).message.slice(0, 2000)]);
      }
    }
  }
}
