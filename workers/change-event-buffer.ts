import { Logger } from 'pino';
import type { Message, Producer } from 'kafkajs';
import { Envelope, encodeEnvelope } from '../core/change-event';
import { HEADERS } from '../core/names';
import { backoff, sleep } from '../core/retry';
import { SourceStatus, setBroken } from './source-status';

/**
 * A commit's place in the source's stream: `seq` orders commits (the Postgres LSN, or a counter for
 * the binlog), `pos` is what the source persists or acknowledges once Kafka has the commit.
 */
type BufItem<P> = { kind: 'msg'; topic: string; message: Message } | { kind: 'commit'; seq: bigint; pos: P };

export interface ChangeEventBufferOpts<P> {
  producer: Producer;
  log: Logger;
  graceMs: number;
  /** The runner's signal: when it aborts, a flush that keeps failing gives up. */
  signal: AbortSignal;
  status: SourceStatus;
  snapshotActive: () => boolean;
  /** Called (in order) with the newest commit whose events Kafka acknowledged. */
  onAck: (pos: P, seq: bigint) => Promise<void> | void;
}

/**
 * Events of one transaction beyond which it is sent to Kafka before its commit arrives. Both sources
 * read only committed transactions, so a part sent early is never rolled back; its position is
 * still acknowledged only at the commit (a crash replays the whole transaction: at-least-once).
 */
const TX_SPILL_EVENTS = Math.max(1000, Number(process.env.SLUICE_TX_SPILL_EVENTS ?? 50000));
/** The source waits (the replication stream pauses) while this many events are buffered. */
const MAX_BUFFERED_EVENTS = 2 * TX_SPILL_EVENTS;

/**
 * The transaction buffer between a change-event source and Kafka. Events are pushed as they are
 * decoded; a commit marker closes a transaction. The flush loop produces whole transactions (a
 * transaction of more than TX_SPILL_EVENTS events in parts, so memory stays bounded), and
 * acknowledges a commit's position (onAck) only after Kafka acknowledged every event up to it.
 */
export class ChangeEventBuffer<P> {
  private buf: BufItem<P>[] = [];
  private bufMsgs = 0;
  private acked = 0n;
  private ackWaiters: { seq: bigint; resolve: () => void }[] = [];
  private wake: (() => void) | null = null;
  private flushFailedSince: number | null = null;
  /** One headers object per column list: the `sluice.columns` JSON rendered once, as bytes (the produce encoder copies it as is). */
  private colsHeaders = new WeakMap<object, Record<string, Buffer>>();

  constructor(private o: ChangeEventBufferOpts<P>) {}

  /** A new session starts from `seq`: whatever an earlier session buffered is dropped (it will be read again). */
  reset(seq: bigint) {
    this.clear();
    this.acked = seq;
    this.lastCommitSeq = seq;
    this.generation++;
  }
  /** Bumped by reset(): a flush loop of an earlier session stops instead of taking the new session's events. */
  private generation = 0;

  clear() {
    this.buf = [];
    this.bufMsgs = 0;
    this.spilling = false;
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const r of w) r();
  }

  get ackedSeq(): bigint {
    return this.acked;
  }
  /** True when the source should wait for room() before pushing more. */
  get full(): boolean {
    return this.bufMsgs >= MAX_BUFFERED_EVENTS;
  }
  /** Resolves once the flush loop took enough events out (backpressure for one huge transaction). */
  room(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }
  private roomWaiters: (() => void)[] = [];
  private spilling = false;
  get pendingMessages(): number {
    return this.bufMsgs;
  }

  /** The value is the envelope; column types travel in the `sluice.columns` header (one cached headers object per column list). */
  push(topic: string, key: string | null, env: Envelope) {
    let headers = this.colsHeaders.get(env.columns);
    if (headers === undefined) {
      headers = { [HEADERS.columns]: Buffer.from(JSON.stringify(env.columns)) };
      this.colsHeaders.set(env.columns, headers);
    }
    this.buf.push({ kind: 'msg', topic, message: { key, value: encodeEnvelope(env), headers } });
    this.bufMsgs++;
  }

  /** Closes a transaction. Resolves at once, or after a drain when too much is buffered (flow control). */
  async commit(seq: bigint, pos: P): Promise<void> {
    this.buf.push({ kind: 'commit', seq, pos });
    this.lastCommitSeq = seq;
    this.wake?.();
    if (this.bufMsgs > 20000) await this.drain();
  }

  /** Resolves once everything buffered so far is in Kafka and acknowledged. */
  drain(): Promise<void> {
    // The newest commit pushed, not the newest still in `buf`: the flush loop may hold it in a retry.
    return this.waitAcked(this.lastCommitSeq);
  }
  private lastCommitSeq = 0n;

  waitAcked(seq: bigint): Promise<void> {
    if (this.acked >= seq) return Promise.resolve();
    return new Promise((resolve) => this.ackWaiters.push({ seq, resolve }));
  }

  async flushLoop(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    let take: BufItem<P>[] = [];
    const status = this.o.status;
    const generation = this.generation;
    while (true) {
      // A new session started (it re-reads from the acknowledged position): this loop's work is void.
      if (generation !== this.generation) return;
      if (!take.length) {
        if (!this.buf.length) {
          if (signal.aborted) return;
          await new Promise<void>((r) => {
            this.wake = r;
            setTimeout(r, 20);
          });
          this.wake = null;
          continue;
        }
        // Only whole transactions go out together; a partial tail waits for its commit.
        let end = -1;
        for (let i = this.buf.length - 1; i >= 0; i--)
          if (this.buf[i].kind === 'commit') {
            end = i;
            break;
          }
        if (end < 0 && this.bufMsgs >= TX_SPILL_EVENTS) {
          // One huge transaction: send what is decoded so far, acknowledge nothing until its commit.
          if (!this.spilling)
            this.o.log.info(
              { events: this.bufMsgs, spill_at: TX_SPILL_EVENTS },
              'transaction larger than SLUICE_TX_SPILL_EVENTS: sending it to Kafka ' +
                'in parts; its position is acknowledged at its commit',
            );
          this.spilling = true;
          end = this.buf.length - 1;
        } else if (end < 0) {
          await sleep(5);
          if (signal.aborted && !this.buf.some((b) => b.kind === 'commit')) return;
          continue;
        } else this.spilling = false;
        take = this.buf.splice(0, end + 1);
        this.bufMsgs -= take.filter((b) => b.kind === 'msg').length;
        if (!this.full && this.roomWaiters.length) {
          const w = this.roomWaiters;
          this.roomWaiters = [];
          for (const r of w) r();
        }
      }
      const byTopic = new Map<string, Message[]>();
      let lastCommit: { seq: bigint; pos: P } | null = null;
      for (const b of take) {
        if (b.kind === 'msg') {
          let l = byTopic.get(b.topic);
          if (!l) byTopic.set(b.topic, (l = []));
          l.push(b.message);
        } else lastCommit = b;
      }
      try {
        if (byTopic.size) {
          // Kafka takes one record batch per partition per request, capped by the topic's
          // max.message.bytes (8 MiB for topics we create): requests of at most ~4 MB per topic, in order.
          const LIMIT = Number(process.env.SLUICE_PRODUCE_BATCH_BYTES ?? 4_000_000);
          let req = new Map<string, { messages: Message[]; bytes: number }>();
          const send = async () => {
            if (!req.size) return;
            await this.o.producer.sendBatch({
              topicMessages: [...req].map(([topic, v]) => ({ topic, messages: v.messages })),
              acks: -1,
            });
            req = new Map();
          };
          for (const [topic, messages] of byTopic) {
            for (const m of messages) {
              const size =
                (m.value as string).length +
                ((m.key as string | null)?.length ?? 0) +
                ((m.headers?.[HEADERS.columns] as Buffer | undefined)?.length ?? 0) +
                100;
              let e = req.get(topic);
              if (e && e.bytes + size > LIMIT) {
                await send();
                e = undefined;
              }
              if (!e) req.set(topic, (e = { messages: [], bytes: 0 }));
              e.messages.push(m);
              e.bytes += size;
            }
          }
          await send();
        }
        attempt = 0;
        this.flushFailedSince = null;
        if (status.state === 'broken' && status.reason?.startsWith('kafka')) {
          status.state = this.o.snapshotActive() ? 'snapshotting' : 'streaming';
          status.reason = null;
          status.broken_since = null;
        }
        take = [];
        if (lastCommit && generation === this.generation) await this.ack(lastCommit.seq, lastCommit.pos);
      } catch (e) {
        // Kafka did not take the batch: keep it, do not ack, retry without limit (the source keeps its log).
        attempt++;
        this.flushFailedSince = this.flushFailedSince ?? Date.now();
        if (Date.now() - this.flushFailedSince >= this.o.graceMs)
          setBroken(status, `kafka_unreachable: ${(e as Error).message}`);
        this.o.log.warn(
          { err: (e as Error).message, attempt },
          'producing to Kafka failed; retrying (position not acknowledged)',
        );
        if (signal.aborted && this.o.signal.aborted && attempt > 3) return;
        await sleep(backoff(attempt, 200, 3000));
      }
    }
  }

  private async ack(seq: bigint, pos: P) {
    if (seq <= this.acked) return;
    this.acked = seq;
    await this.o.onAck(pos, seq);
    const ready = this.ackWaiters.filter((w) => w.seq <= seq);
    this.ackWaiters = this.ackWaiters.filter((w) => w.seq > seq);
    for (const w of ready) w.resolve();
  }
}
