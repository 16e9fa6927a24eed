import { Logger } from 'pino';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { ColumnInfo, Envelope, kafkaKey } from '../core/change-event';
import { TransformError } from '../core/errors';
import { dlqTopicFor, groupIdFor, HEADERS } from '../core/names';
import { backoff, sleep } from '../core/retry';
import { destinationModule } from '../connectors';
import type { DestinationWriter, PartialWrite, TopicPartition } from '../connectors/module';
import { TransformDef, buildChain } from './transforms';
import { metrics } from './metrics';
import { SchemaHoldAborted, SchemaPolicy, SchemaTracker } from './schema-tracker';

/** The destination settings the sink itself reads; the rest of the config is the writer's. */
export interface DestConfig {
  table_name_format?: string;
  batch_size?: number;
  ingestion_mode?: 'upsert' | 'append';
  [field: string]: unknown;
}
export interface Delivery {
  max_retries: number;
  backoff_initial_ms: number;
  backoff_max_ms: number;
}

export interface SinkStatus {
  state: 'starting' | 'running' | 'broken' | 'stopped';
  reason: string | null;
  lag: number | null;
  last_write_at: string | null;
  broken_since?: number | null;
  partitions?: Record<string, number>;
}

export interface ControlQuery {
  query(sql: string, params?: unknown[]): Promise<any[]>;
}

export interface SinkRunnerOpts {
  pipelineId: string;
  /** Destination kind: its module (connectors/index.ts) supplies the writer. */ kind: string;
  cfg: DestConfig;
  mode: 'upsert' | 'append';
  topics: string[];
  kafka: Kafka;
  producer: Producer;
  admin: Admin;
  /** The control DB (DLQ records); only `query` is used, so a sink thread passes a plain pool. */
  control: ControlQuery;
  log: Logger;
  signal: AbortSignal;
  delivery: Delivery;
  transforms: TransformDef[];
  graceMs: number;
  topicPrefix: string;
  /** The pipeline's schema_changes policy. */
  schemaChanges: SchemaPolicy;
}

/**
 * `key` stays the fetched Buffer until the DLQ needs it as text. `schema`: the decoded envelope of a
 * record whose column list is a schema change, to settle before it is transformed and written.
 */
interface Rec {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | string | null;
  raw: string;
  cols: string | null;
  env: Envelope | null;
  schema?: Envelope;
}
type Prepared = { good: Rec[]; poison: { rec: Rec; err: Error }[]; schema: Rec[] };

class Aborted extends Error {}
class TopicsChanged extends Error {}

/**
 * Partitions of the pipeline's topics the sink writes at once (KafkaJS partitionsConsumedConcurrently),
 * each on its own destination connection (writers size their pools from it).
 */
export const PARTITIONS_CONCURRENTLY = Math.max(1, Number(process.env.SLUICE_SINK_CONCURRENCY ?? 2));

/** Longest pause a destination may ask for between connection retries (Retry-After beyond it is capped). */
const MAX_RETRY_AFTER_MS = 5 * 60_000;
/** Keys whose rejected records retry at once (each on a destination connection from the writer's pool). */
const RETRY_KEYS_IN_PARALLEL = 8;
/** Records group by Kafka key for per-key order; keyless records (truncates, tables without a key) share one group. */
const keyText = (r: Rec) => (r.key === null ? '' : r.key.toString());
/** dlqByKey's key: a DLQ record and a later record of the same table and key meet here. */
const dlqKey = (topic: string, key: string) => `${topic}\u0000${key}`;
/** A record that changes rows of other keys: a truncate, a keyless record, an update of the primary key (deletes the old key's row). */
function isBarrier(r: Rec): boolean {
  if (r.key === null) return true;
  const e = r.env;
  if (!e) return false;
  if (e.op === 't') return true;
  return e.op === 'u' && !!e.before && !!e.after && kafkaKey(e.columns, e.before) !== kafkaKey(e.columns, e.after);
}

/**
 * Waits for `p` (a partition's write in flight) while heartbeating every second. KafkaJS heartbeats
 * only between batches, so an eachBatch that waits for a write longer than the session timeout (a
 * slow destination; a slice walked record by record around a rejected one) lost the group
 * membership: the offset commit failed, the slice was read and written again, and on a slow enough
 * destination again and again (found by the repeated fault scenarios; test/dataplane/sink-heartbeat).
 */
async function beating(p: Promise<void> | undefined, heartbeat: () => Promise<void>): Promise<void> {
  if (!p) return;
  const timer = setInterval(() => {
    heartbeat().catch(() => undefined);
  }, 1000);
  try {
    await p;
  } finally {
    clearInterval(timer);
  }
}

/**
 * The sink's side of a buffering writer (DestinationWriter.buffered): per partition, the offset up to
 * which every record was handed over, and the commit of what the writer reports durable. A writer
 * without the hook never gets here (its offsets are committed after each write).
 */
class BufferedCommits {
  private parts = new Map<
    string,
    { tp: TopicPartition; next: string; heartbeat: () => Promise<void>; settling: boolean }
  >();

  constructor(
    private writer: DestinationWriter,
    private log: Logger,
    private commit: (tp: TopicPartition, offset: string) => void,
    private retry: <T>(f: () => Promise<T>, heartbeat: () => Promise<void>) => Promise<T>,
  ) {}

  /** A slice of `tp` below `next` is delivered: settle (roll what is due) and commit what is durable. */
  async handled(tp: TopicPartition, next: string, heartbeat: () => Promise<void>): Promise<void> {
    const key = `${tp.topic}/${tp.partition}`;
    this.parts.set(key, { tp, next, heartbeat, settling: false });
    await this.settle(key, false);
  }

  async settle(key: string, force: boolean): Promise<void> {
    const p = this.parts.get(key);
    if (!p) return;
    p.settling = true;
    try {
      this.commit(p.tp, await this.retry(() => this.writer.buffered!.settle(p.tp, p.next, force), p.heartbeat));
    } finally {
      p.settling = false;
    }
  }

  /** Partitions with nothing being settled now (the idle timer's candidates). */
  idle(): string[] {
    return [...this.parts].filter(([, p]) => !p.settling).map(([k]) => k);
  }

  /** Stopping: one bounded attempt per partition to make everything durable; what fails is read again by the next owner. */
  async flushAll(): Promise<void> {
    if (!this.writer.buffered) return;
    for (const p of this.parts.values()) {
      try {
        const at = await Promise.race([
          this.writer.buffered.settle(p.tp, p.next, true),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out after 15 s')), 15000).unref()),
        ]);
        this.commit(p.tp, at);
      } catch (e) {
        this.log.warn(
          { topic: p.tp.topic, partition: p.tp.partition, err: (e as Error).message },
          'buffered records not flushed on stop; they will be read again',
        );
      }
    }
  }

  discard(): void {
    this.writer.buffered?.discard(null);
    this.parts.clear();
  }
}

/**
 * Kafka -> transforms -> destination, for every destination kind (the dialect is the writer's).
 * Offsets are committed only after the write (or DLQ write) that covers them.
 */
export class SinkRunner {
  status: SinkStatus = { state: 'starting', reason: null, lag: null, last_write_at: null, broken_since: null };
  private writer: DestinationWriter;
  private chain: ReturnType<typeof buildChain>;
  private consumer: Consumer | null = null;
  private unreachableSince: number | null = null;
  private schema: SchemaTracker;

  constructor(private o: SinkRunnerOpts) {
    const module = destinationModule(o.kind);
    this.writer = module.writer({
      pipelineId: o.pipelineId,
      cfg: o.cfg,
      mode: o.mode,
      log: o.log,
      concurrency: PARTITIONS_CONCURRENTLY,
    });
    this.chain = buildChain(o.transforms);
    this.schema = new SchemaTracker({
      pipelineId: o.pipelineId,
      policy: o.schemaChanges ?? 'propagate',
      support: module.schemaChanges,
      control: o.control,
      log: o.log,
    });
  }

  /** The `sluice.columns` header as a string; the same bytes as the previous record's give the same string (no new one per record). */
  private lastColsBuf: Buffer | null = null;
  private lastColsStr: string | null = null;
  private colsHeader(h: Buffer | string | (Buffer | string)[] | undefined): string | null {
    if (h === undefined || h === null) return null;
    if (Array.isArray(h)) h = h[0];
    if (typeof h === 'string') return h;
    if (this.lastColsBuf && this.lastColsBuf.equals(h)) return this.lastColsStr;
    this.lastColsBuf = Buffer.from(h);
    this.lastColsStr = h.toString(); // a copy: the slice would pin the whole fetch response
    return this.lastColsStr;
  }

  /**
   * DLQ records not yet replayed, by topic and key. When a newer record of the same key is written,
   * the DLQ record's image is older than the destination's: it is marked `superseded` and never
   * replayed (a replay would overwrite the newer change).
   */
  private dlqByKey = new Map<string, { id: number; partition: number; offset: bigint }[]>();

  private colsCache = new Map<string, ColumnInfo[]>();
  /** Envelope from the record value, with its column types from the `sluice.columns` header (parsed once per distinct header). */
  private decode(r: Rec): Envelope | null {
    const env = JSON.parse(r.raw) as Envelope | null;
    if (!env) return null;
    if (r.cols) {
      let cols = this.colsCache.get(r.cols);
      if (!cols) {
        cols = JSON.parse(r.cols) as ColumnInfo[];
        if (this.colsCache.size > 1000) this.colsCache.clear();
        this.colsCache.set(r.cols, cols);
      }
      // Shared: transforms replace the list (never mutate its entries).
      env.columns = cols;
    } else env.columns = env.columns ?? [];
    return env;
  }

  private tableNames = new Map<string, string>();
  tableFor(schema: string, table: string): string {
    const k = `${schema}\u0000${table}`;
    let t = this.tableNames.get(k);
    if (t === undefined) {
      t = (this.o.cfg.table_name_format ?? '{table}')
        .replace(/\{schema\}/g, schema)
        .replace(/\{table\}/g, table)
        .replace(/\{topic_prefix\}/g, this.o.topicPrefix);
      if (this.tableNames.size > 10000) this.tableNames.clear();
      this.tableNames.set(k, t);
    }
    return t;
  }

  async run(): Promise<void> {
    const o = this.o;
    await this.ensureDlqTopic();
    await this.loadDlqKeys();
    await this.schema.load();
    // restartOnFailure false: the loop below is the only thing that restarts the consumer. KafkaJS
    // otherwise restarts it by itself after a retriable crash (Kafka restarted, a connection closed),
    // while the loop, seeing the same crash, disconnects it and subscribes again: the two raced, and the
    // sink got stuck in "Cannot subscribe to topic while consumer is running" every 10 s while the
    // pipeline reported Active (found by the chaos soak; test/dataplane/sink-restart.test.ts).
    const consumer = o.kafka.consumer({
      groupId: groupIdFor(o.pipelineId),
      maxBytesPerPartition: 2 * 1024 * 1024,
      maxBytes: 8 * 1024 * 1024,
      sessionTimeout: Number(process.env.SLUICE_CONSUMER_SESSION_TIMEOUT_MS ?? 10000),
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 50,
      retry: { retries: 1000000, initialRetryTime: 300, maxRetryTime: 5000, restartOnFailure: async () => false },
    });
    this.consumer = consumer;
    let crashed: Error | null = null;
    consumer.on(consumer.events.CRASH, (e: any) => {
      crashed = e?.payload?.error ?? new Error('consumer crashed');
    });
    // After a rebalance the consumer reads again from the committed offsets: what a buffering writer holds would come twice.
    consumer.on(consumer.events.GROUP_JOIN, () => buffered.discard());
    const lagTimer = setInterval(() => {
      this.updateLag().catch(() => undefined);
    }, 2000);
    // One replay pass at a time: under load a pass outlasts the interval, and two passes would both
    // write the records neither has marked yet.
    let replaying: Promise<void> | null = null;
    const replayTimer = setInterval(() => {
      replaying ??= this.replayRequested()
        .catch((e) => o.log.warn({ err: (e as Error).message }, 'DLQ replay failed'))
        .finally(() => (replaying = null));
    }, 1000);
    /**
     * Pipelining, per partition: the write of a slice runs while eachBatch returns, so KafkaJS
     * fetches and decodes the next batch, and we decode and transform it, during the destination
     * write. At most one write per partition is in flight and the next one starts only after it
     * (per-key order). The offset commit after a write runs beside the next write: commits of a
     * partition go out one at a time, in order, and one in flight makes the next commit only the
     * newest written offset (fewer commits, never one for an unwritten record). An offset is still
     * committed only after the write that covers it. resolveOffset() only moves KafkaJS's fetch
     * position (autoCommit is off, so KafkaJS never commits it by itself). If a commit fails, the
     * consumer is restarted, which fetches again from the committed offsets (at-least-once).
     */
    const tails = new Map<string, Promise<void>>();
    const commits = new Map<string, { want: string | null; last: string | null; running: Promise<void> | null }>();
    let failed: Error | null = null;
    const fail = (e: Error) => {
      failed = failed ?? e;
      crashed = crashed ?? e;
    };
    const commitAfterWrite = (tp: string, topic: string, partition: number, offset: string) => {
      let c = commits.get(tp);
      if (!c) commits.set(tp, (c = { want: null, last: null, running: null }));
      const cc = c;
      if (cc.last === offset) return; // a buffering writer reports the same durable offset until its next file
      cc.last = offset;
      cc.want = offset;
      cc.running ??= (async () => {
        try {
          while (cc.want !== null && !failed) {
            const next = cc.want;
            cc.want = null;
            await consumer.commitOffsets([{ topic, partition, offset: next }]);
          }
        } catch (e) {
          fail(e as Error);
        } finally {
          cc.running = null;
        }
      })();
    };
    const settle = async () => {
      await Promise.all(tails.values());
      tails.clear();
      await Promise.all([...commits.values()].map((c) => c.running));
      commits.clear();
    };
    const buffered = new BufferedCommits(
      this.writer,
      o.log,
      (tp, at) => commitAfterWrite(`${tp.topic}/${tp.partition}`, tp.topic, tp.partition, at),
      (f, heartbeat) => this.withConnRetry(f, heartbeat),
    );
    // A buffering writer closes files by age too: settle idle partitions about once a second, behind their writes.
    const settleTimer = this.writer.buffered
      ? setInterval(() => {
          for (const key of buffered.idle()) {
            tails.set(
              key,
              (tails.get(key) ?? Promise.resolve())
                .then(() => buffered.settle(key, false))
                .catch((e) => {
                  if (!(e instanceof Aborted)) fail(e as Error);
                }),
            );
          }
        }, 1000)
      : null;
    try {
      while (!o.signal.aborted) {
        try {
          await consumer.connect();
          await consumer.subscribe({ topics: o.topics, fromBeginning: true });
          crashed = null;
          failed = null;
          await consumer.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
            eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
              const tp = `${batch.topic}/${batch.partition}`;
              const recs: Rec[] = batch.messages.map((m) => ({
                topic: batch.topic,
                partition: batch.partition,
                offset: m.offset,
                key: m.key ?? null,
                raw: m.value?.toString() ?? 'null',
                cols: this.colsHeader(m.headers?.[HEADERS.columns]),
                env: null,
              }));
              const size = Math.max(1, o.cfg.batch_size ?? 500);
              for (let i = 0; i < recs.length; i += size) {
                if (failed || !isRunning() || isStale() || o.signal.aborted) return;
                const slice = recs.slice(i, i + size);
                const prepared = this.prepare(slice); // while the previous slice is being written
                // The tail may be replaced while we wait (an idle settle of a buffering writer): wait for the newest.
                for (let t = tails.get(tp); t; t = tails.get(tp)) {
                  await beating(t, heartbeat);
                  if (tails.get(tp) === t) break;
                }
                if (failed || !isRunning() || isStale() || o.signal.aborted) return;
                const last = slice[slice.length - 1].offset;
                tails.set(
                  tp,
                  (async () => {
                    try {
                      await this.deliver(prepared, heartbeat);
                      const next = (BigInt(last) + 1n).toString();
                      if (this.writer.buffered)
                        await buffered.handled({ topic: batch.topic, partition: batch.partition }, next, heartbeat);
                      else commitAfterWrite(tp, batch.topic, batch.partition, next);
                      heartbeat().catch(() => undefined);
                    } catch (e) {
                      if (e instanceof Aborted || e instanceof SchemaHoldAborted) return;
                      // Offsets were resolved past this slice: refetch from the committed offsets.
                      fail(e as Error);
                    }
                  })(),
                );
                resolveOffset(last);
              }
            },
          });
          this.status.state = 'running';
          // consumer.run returns once fetching started; watch for a crash, new topics or shutdown.
          while (!o.signal.aborted && !crashed && !this.newTopics) await sleep(200, o.signal);
          if (crashed) throw crashed;
          if (this.newTopics) throw new TopicsChanged();
        } catch (e) {
          await settle();
          buffered.discard(); // read again from the committed offsets
          if (o.signal.aborted) break;
          if (e instanceof TopicsChanged) {
            // A KafkaJS consumer subscribes once: rejoin with the new topics, from the committed offsets.
            this.newTopics = false;
            o.log.info({ topics: o.topics.length }, 'sink resubscribing: new tables are captured');
            await consumer.stop().catch(() => undefined);
            await consumer.disconnect().catch(() => undefined);
            continue;
          }
          this.status.reason = `kafka: ${(e as Error).message}`;
          o.log.warn({ err: (e as Error).message }, 'sink consumer failed; restarting it');
          await consumer.disconnect().catch(() => undefined);
          await sleep(1000, o.signal);
        }
      }
    } finally {
      clearInterval(lagTimer);
      clearInterval(replayTimer);
      await replaying; // a replay write in flight ends (or sees the abort) before the writer is closed
      if (settleTimer) clearInterval(settleTimer);
      await settle(); // the writes in flight finish and commit their offsets before the consumer leaves
      if (!failed) {
        await buffered.flushAll();
        await settle();
      } // what a buffering writer holds, made durable and committed
      await consumer.disconnect().catch(() => undefined);
      this.chain.dispose();
      await this.writer.close();
      this.status.state = 'stopped';
    }
  }

  private async ensureDlqTopic() {
    const t = dlqTopicFor(this.o.pipelineId);
    const existing = await this.o.admin.listTopics();
    if (!existing.includes(t))
      await this.o.admin
        .createTopics({ topics: [{ topic: t, numPartitions: 1, replicationFactor: -1 }] })
        .catch(() => undefined);
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
    if (this.status.state === 'broken' || this.status.state === 'starting') {
      this.status.state = 'running';
      this.status.reason = null;
      this.status.broken_since = null;
    }
    this.status.last_write_at = new Date().toISOString();
  }

  /**
   * Decodes and transforms a slice (CPU only): the records to write, those a transform rejected, and
   * those whose column list is a schema change (settled in order by deliver, then transformed).
   */
  private prepare(recs: Rec[]): Prepared {
    const good: Rec[] = [];
    const poison: { rec: Rec; err: Error }[] = [];
    const schema: Rec[] = [];
    for (const r of recs) {
      try {
        const env = this.decode(r);
        if (env && this.schema.verdict(env, r.offset).kind === 'changed') {
          r.schema = env;
          schema.push(r);
          continue;
        }
        r.env = env ? this.transform(env, r) : null;
        if (r.env) good.push(r);
      } catch (e) {
        poison.push({ rec: r, err: e as Error });
      }
    }
    return { good, poison, schema };
  }

  /** A decoded envelope shaped for its table's accepted schema (ignored columns out, remapped ones renamed), then through the transforms. */
  private transform(env: Envelope, r: Pick<Rec, 'offset'>): Envelope | null {
    const v = this.schema.verdict(env, r.offset);
    return this.chain.apply(v.kind === 'same' && v.adjust ? v.adjust(env) : env);
  }

  /**
   * A slice with schema changes: walked in offset order; the records before a change are delivered,
   * the change is settled (applied downstream, or held until acknowledged), and the walk goes on.
   */
  private async deliverWithSchema(p: Prepared, heartbeat: () => Promise<void>): Promise<void> {
    const poisonOf = new Map(p.poison.map((x) => [x.rec, x.err]));
    const all = [...p.good, ...p.poison.map((x) => x.rec), ...p.schema].sort((a, b) =>
      BigInt(a.offset) < BigInt(b.offset) ? -1 : 1,
    );
    let seg: Prepared = { good: [], poison: [], schema: [] };
    const flush = async () => {
      if (seg.good.length || seg.poison.length) await this.deliver(seg, heartbeat);
      seg = { good: [], poison: [], schema: [] };
    };
    for (const r of all) {
      const err = poisonOf.get(r);
      if (err) {
        seg.poison.push({ rec: r, err });
        continue;
      }
      if (r.schema) {
        if (this.schema.verdict(r.schema, r.offset).kind === 'changed') {
          await flush();
          await this.schema.settle(
            r.schema,
            { partition: r.partition, offset: BigInt(r.offset) },
            {
              writer: this.writer,
              tableFor: (s, t) => this.tableFor(s, t),
              heartbeat,
              signal: this.o.signal,
              held: (reason) => {
                if (reason) this.setHeld(reason);
                else this.markHealthy();
              },
            },
          );
        }
        try {
          r.env = this.transform(r.schema, r);
        } catch (e) {
          seg.poison.push({ rec: r, err: e as Error });
          continue;
        }
        r.schema = undefined;
        if (!r.env) continue;
      }
      seg.good.push(r);
    }
    await flush();
  }

  private newTopics = false;
  /** Tables that started to be captured while streaming: their topics join the subscription (the consumer rejoins). */
  addTopics(topics: string[]) {
    const add = topics.filter((t) => !this.o.topics.includes(t));
    if (!add.length) return;
    this.o.topics = [...this.o.topics, ...add];
    this.newTopics = true;
  }

  private setHeld(reason: string) {
    if (this.status.state !== 'broken') this.status.broken_since = Date.now();
    this.status.state = 'broken';
    this.status.reason = reason;
  }

  /**
   * Writes a prepared slice: unreachable destination = retry without limit; a rejected record =
   * retries, then DLQ. The whole slice goes in one write when it can. Otherwise it is walked in
   * offset order, one record at a time: a rejected record holds back only the later records of its
   * own key, and their retries run side by side with other keys' (8 keys at a time), so a burst of
   * poison records costs about one backoff sequence, not one per record. A record that affects
   * other keys (a truncate, a keyless record, an update that changes the primary key) is a barrier:
   * it and everything after it wait, in order, until every earlier failure is settled. A writer that
   * applies a batch in part (PartialWrite) counts as having written all but its rejected records and
   * what heldBack() keeps with them; those take the same walk.
   */
  private async deliver(prepared: Prepared, heartbeat: () => Promise<void>): Promise<void> {
    if (prepared.schema.length) return this.deliverWithSchema(prepared, heartbeat);
    const { good, poison } = prepared;
    const known = new Map<Rec, Error>(poison.map((p) => [p.rec, p.err]));
    const recs = poison.length
      ? [...good, ...poison.map((p) => p.rec)].sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1))
      : good;
    // Fast path: every record up to the first transform failure in one write.
    const firstPoison = poison.length ? recs.findIndex((r) => known.has(r)) : recs.length;
    let rest = recs; // what the walk below writes, in offset order
    if (firstPoison > 0) {
      const prefix = firstPoison === recs.length ? recs : recs.slice(0, firstPoison);
      let ok = false;
      let partial: PartialWrite | void = undefined;
      try {
        partial = await this.withConnRetry(
          () =>
            this.write(
              prefix.map((g) => g.env!),
              prefix,
            ),
          heartbeat,
        );
        ok = true;
      } catch (e) {
        if (e instanceof Aborted) throw e;
      }
      if (ok) {
        const held = partial?.rejected.length ? this.heldBack(prefix, partial, known) : null;
        await this.supersede(held ? prefix.filter((r) => !held.has(r)) : prefix);
        rest = held ? [...held, ...recs.slice(firstPoison)] : recs.slice(firstPoison);
      }
    }
    if (!rest.length) return;
    const groups = new Map<string, { rec: Rec; err: Error | null }[]>(); // per key, in offset order; err null = not tried yet
    let tail: { rec: Rec; err: Error | null }[] | null = null;
    for (const r of rest) {
      const err = known.get(r) ?? null;
      if (tail) {
        tail.push({ rec: r, err });
        continue;
      }
      const barrier = isBarrier(r);
      if (barrier && groups.size) {
        tail = [{ rec: r, err }];
        continue;
      }
      const k = keyText(r);
      const g = groups.get(k);
      if (g) {
        g.push({ rec: r, err });
        continue;
      }
      if (err) {
        if (barrier) tail = [{ rec: r, err }];
        else groups.set(k, [{ rec: r, err }]);
        continue;
      }
      const failed = await this.writeOne(r, heartbeat);
      if (!failed) continue;
      if (barrier) tail = [{ rec: r, err: failed }];
      else groups.set(k, [{ rec: r, err: failed }]);
    }
    await this.retryKeys([...groups.values()], heartbeat);
    if (tail) await this.retryKeys([tail], heartbeat);
  }

  /**
   * The records of a partly applied batch that the walk must (re)write, in offset order: the rejected
   * ones (their errors go into `known`), every later record of their keys, and everything from the
   * first barrier after the first rejection on (see PartialWrite). The rest counts as written.
   */
  private heldBack(batch: Rec[], partial: PartialWrite, known: Map<Rec, Error>): Set<Rec> {
    const rejected = new Map<number, Error>();
    for (const { index, error } of partial.rejected) {
      if (!Number.isInteger(index) || index < 0 || index >= batch.length)
        throw new Error(
          `destination writer ${this.o.kind} reported a rejection at index ${index} of a batch of ${batch.length}`,
        );
      rejected.set(index, error);
    }
    const held = new Set<Rec>();
    const keys = new Set<string>();
    let all = false;
    for (let i = Math.min(...rejected.keys()); i < batch.length; i++) {
      const r = batch[i];
      const err = rejected.get(i);
      if (!(err || all || isBarrier(r) || keys.has(keyText(r)))) continue;
      held.add(r);
      keys.add(keyText(r));
      if (err) known.set(r, err);
      if (isBarrier(r)) all = true;
    }
    return held;
  }

  /** Writes one record (connection errors retried without limit); the destination's rejection is returned, not thrown. */
  private async writeOne(r: Rec, heartbeat: () => Promise<void>): Promise<Error | null> {
    try {
      await this.withConnRetry(() => this.writeAll([r.env!], [r]), heartbeat);
    } catch (e) {
      if (e instanceof Aborted) throw e;
      return e as Error;
    }
    await this.supersede([r]);
    return null;
  }

  /** Retries groups side by side (RETRY_KEYS_IN_PARALLEL at a time), each group's records in order; stops them all on the first hard error. */
  private async retryKeys(groups: { rec: Rec; err: Error | null }[][], heartbeat: () => Promise<void>): Promise<void> {
    let stop: unknown = null;
    const run = async () => {
      for (let g = groups.shift(); g && !stop; g = groups.shift()) {
        for (const { rec, err } of g) {
          if (stop) return;
          try {
            if (err) {
              await this.retryThenDlq(rec, err, heartbeat);
              continue;
            }
            const failed = await this.writeOne(rec, heartbeat);
            if (failed) await this.retryThenDlq(rec, failed, heartbeat);
          } catch (e) {
            stop = stop ?? e;
            return;
          }
        }
      }
    };
    await Promise.allSettled(Array.from({ length: Math.min(RETRY_KEYS_IN_PARALLEL, groups.length) }, run));
    if (stop) throw stop;
  }

  private async loadDlqKeys() {
    const rows = await this.o.control.query(
      'SELECT id, topic, kafka_partition, kafka_offset, record_key FROM ' +
        'dlq_records WHERE pipeline_id = $1 AND status IN ' +
        "('pending','replay_requested') AND record_key IS NOT NULL",
      [this.o.pipelineId],
    );
    this.dlqByKey.clear();
    for (const r of rows) this.noteDlq(r.topic, r.record_key, Number(r.id), r.kafka_partition, BigInt(r.kafka_offset));
  }
  private noteDlq(topic: string, key: string, id: number, partition: number, offset: bigint) {
    const k = dlqKey(topic, key);
    const list = this.dlqByKey.get(k) ?? [];
    list.push({ id, partition, offset });
    this.dlqByKey.set(k, list);
  }
  /**
   * Written records whose key has older DLQ records: those are superseded (see dlqByKey). Upsert mode
   * only: in append mode a DLQ record is a missing history row whatever came later.
   */
  private async supersede(written: Rec[]) {
    if (!this.dlqByKey.size || this.o.mode !== 'upsert') return;
    const found: { k: string; older: { id: number; partition: number; offset: bigint }[] }[] = [];
    for (const r of written) {
      if (r.key === null) continue;
      const k = dlqKey(r.topic, r.key.toString());
      const list = this.dlqByKey.get(k);
      if (!list) continue;
      // Only a newer record supersedes (after a restart, older records of the key can be read again).
      const off = BigInt(r.offset);
      const older = list.filter((d) => d.partition === r.partition && d.offset < off);
      if (older.length) found.push({ k, older });
    }
    if (!found.length) return;
    const ids = found.flatMap((f) => f.older.map((d) => d.id));
    // The control DB first: if it fails the records stay tracked (and pending), nothing is lost.
    await this.o.control.query(
      "UPDATE dlq_records SET status = 'superseded', updated_at = now() " +
        "WHERE id = ANY($1) AND status IN ('pending','replay_requested')",
      [ids],
    );
    for (const { k, older } of found) {
      const rest = (this.dlqByKey.get(k) ?? []).filter((d) => !older.includes(d));
      if (rest.length) this.dlqByKey.set(k, rest);
      else this.dlqByKey.delete(k);
    }
    this.o.log.info(
      { dlq_ids: ids },
      'DLQ records superseded by a newer change of the same key: they will not be replayed',
    );
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
        const env = this.transform(this.decode(rec)!, rec);
        if (env) await this.withConnRetry(() => this.writeAll([env], [rec]), heartbeat);
        if (env) await this.supersede([rec]);
        return;
      } catch (e) {
        if (e instanceof Aborted) throw e;
        err = e as Error;
      }
    }
    await this.toDlq(rec, err, attempts, heartbeat);
  }

  private async toDlq(rec: Rec, err: Error, attempts: number, heartbeat: () => Promise<void>) {
    const o = this.o;
    const cls = err instanceof TransformError ? 'transform_error' : this.writer.errorClass(err);
    const key = rec.key === null ? null : rec.key.toString();
    let attempt = 0;
    while (true) {
      try {
        await o.producer.send({
          topic: dlqTopicFor(o.pipelineId),
          acks: -1,
          messages: [
            {
              key,
              value: rec.raw,
              headers: {
                ...(rec.cols ? { [HEADERS.columns]: rec.cols } : {}),
                [HEADERS.errorClass]: cls,
                [HEADERS.errorMessage]: err.message.slice(0, 2000),
                [HEADERS.attempts]: String(attempts),
                [HEADERS.originalTopic]: rec.topic,
                [HEADERS.originalPartition]: String(rec.partition),
                [HEADERS.originalOffset]: rec.offset,
              },
            },
          ],
        });
        const ins = await o.control.query(
          `INSERT INTO dlq_records (pipeline_id, topic, kafka_partition, kafka_offset, record_key, record_value, error_class, error_message, attempts)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (pipeline_id, topic, kafka_partition, kafka_offset) DO NOTHING RETURNING id`,
          [
            o.pipelineId,
            rec.topic,
            rec.partition,
            rec.offset,
            key,
            JSON.stringify({ ...JSON.parse(rec.raw), columns: rec.cols ? JSON.parse(rec.cols) : [] }),
            cls,
            err.message.slice(0, 2000),
            attempts,
          ],
        );
        if (ins.length && key !== null)
          this.noteDlq(rec.topic, key, Number(ins[0].id), rec.partition, BigInt(rec.offset));
        metrics.dlq.inc({ pipeline: o.pipelineId });
        o.log.warn(
          {
            pipeline_id: o.pipelineId,
            topic: rec.topic,
            partition: rec.partition,
            offset: rec.offset,
            error_class: cls,
            err: err.message,
          },
          'record sent to the DLQ',
        );
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
        if (!this.writer.isConnectionError(e)) throw e;
        attempt++;
        metrics.retries.inc({ pipeline: this.o.pipelineId, kind: 'connection' });
        this.markUnreachable(e as Error);
        if (attempt === 1 || attempt % 10 === 0)
          this.o.log.warn({ err: (e as Error).message, attempt }, 'destination unreachable; retrying without limit');
        // The destination may ask for a longer pause (HTTP Retry-After); the group heartbeat goes on meanwhile.
        const asked = Number((e as { retryAfterMs?: unknown }).retryAfterMs);
        let wait = Math.max(
          backoff(attempt, 200, 3000),
          Number.isFinite(asked) ? Math.min(asked, MAX_RETRY_AFTER_MS) : 0,
        );
        do {
          await heartbeat().catch(() => undefined);
          const step = Math.min(wait, 2000);
          await sleep(step, this.o.signal);
          wait -= step;
        } while (wait > 0 && !this.o.signal.aborted);
      }
    }
  }

  /**
   * One write of the batch; a PartialWrite is returned (deliver's fast path handles it). `now`:
   * durable when it returns, also for a buffering writer (DLQ replays).
   */
  private async write(envs: Envelope[], recs: Rec[], now = false): Promise<PartialWrite | void> {
    const started = process.hrtime.bigint();
    const args = [
      envs,
      recs.map((r) => r.offset),
      (schema: string, table: string) => this.tableFor(schema, table),
      { topic: recs[0].topic, partition: recs[0].partition },
    ] as const;
    const partial = await (now && this.writer.buffered
      ? this.writer.buffered.writeNow(...args)
      : this.writer.write(...args));
    metrics.eventsOut.inc({ pipeline: this.o.pipelineId }, envs.length - (partial?.rejected.length ?? 0));
    metrics.writeLatency.observe({ pipeline: this.o.pipelineId }, Number(process.hrtime.bigint() - started) / 1e9);
    return partial;
  }

  /** A write that either applied everything or throws (a record's rejection in a PartialWrite becomes the error). */
  private async writeAll(envs: Envelope[], recs: Rec[], now = false): Promise<void> {
    const partial = await this.write(envs, recs, now);
    if (partial?.rejected.length) throw partial.rejected[0].error;
  }

  // ---------- DLQ replay ----------

  private async replayRequested() {
    const o = this.o;
    const rows = await o.control.query(
      `SELECT * FROM dlq_records WHERE pipeline_id = $1 AND status = 'replay_requested' ORDER BY id LIMIT 500`,
      [o.pipelineId],
    );
    for (const r of rows) {
      if (o.signal.aborted) return;
      const rec: Rec = {
        topic: r.topic,
        partition: r.kafka_partition,
        offset: String(r.kafka_offset),
        key: r.record_key,
        raw: JSON.stringify(r.record_value),
        cols: null,
        env: null,
      };
      try {
        // Superseded since the replay was requested (a newer change of the key was written): not replayed.
        if (
          this.o.mode === 'upsert' &&
          r.record_key !== null &&
          !(this.dlqByKey.get(dlqKey(r.topic, r.record_key)) ?? []).some((d) => d.id === Number(r.id))
        )
          continue;
        const env = this.transform(r.record_value as Envelope, rec);
        // An unreachable destination is waited for, as for any record: the replay was asked for once.
        if (env)
          await this.withConnRetry(
            () => this.writeAll([env], [rec], true),
            async () => undefined,
          );
        await o.control.query(`UPDATE dlq_records SET status = 'replayed', updated_at = now() WHERE id = $1`, [r.id]);
        o.log.info({ dlq_id: Number(r.id) }, 'DLQ record replayed');
      } catch (e) {
        // Stopped mid-replay (restart, reconfiguration): the record stays requested for the next runner.
        if (e instanceof Aborted || o.signal.aborted) return;
        o.log.warn(
          { dlq_id: Number(r.id), err: (e as Error).message },
          'DLQ replay of the record failed: it is pending in the DLQ again',
        );
        await o.control.query(
          "UPDATE dlq_records SET status = 'pending', attempts = attempts + 1, " +
            'error_message = $2, updated_at = now() WHERE id = $1',
          [r.id, (e as Error).message.slice(0, 2000)],
        );
      }
    }
  }
}
