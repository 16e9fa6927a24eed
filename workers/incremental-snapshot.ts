import crypto from 'node:crypto';
import { Logger } from 'pino';
import { ColumnInfo, Envelope, kafkaKey, keyString } from '../core/change-event';
import { topicFor } from '../core/names';
import { sleep } from '../core/retry';
import type { ChunkWindow, SnapshotReader, TableInfo } from '../connectors/module';
import { ChangeEventBuffer } from './change-event-buffer';
import type { ControlDb } from './control-db';
import { metrics } from './metrics';
import type { SourceStatus } from './source-status';

export interface IncrementalSnapshotterOpts {
  pipelineId: string;
  control: ControlDb;
  log: Logger;
  status: SourceStatus;
  buffer: ChangeEventBuffer<unknown>;
  chunkSize: () => number;
  tables: () => TableInfo[];
  topicPrefix: string;
  openReader: () => Promise<SnapshotReader>;
  /** The keys live in a table's topic (workers/topic-keys.ts); with presentKeys, enables the gap-delete pass. */
  liveKeys?: (t: TableInfo, signal: AbortSignal) => Promise<Set<string>>;
  /** The `source` block of a snapshot ('r') event, before the snapshot fields are added. */
  sourceInfo: (schema: string, table: string, now: number) => Envelope['source'];
}

/**
 * Incremental snapshots (DBLog): each table is read in primary-key chunks between a low and a high
 * watermark written into the change stream. While the window is open, the stream records the keys
 * it changed; at the high watermark the chunk rows nobody changed are emitted, in stream order.
 * Streaming never stops. Progress (last key per table) lives in the `snapshots` table, so a crashed
 * snapshot resumes at its last finished chunk.
 */
export class IncrementalSnapshotter {
  active = false;
  private windows = new Map<string, ChunkWindow>();
  private loopRunning = false;

  constructor(private o: IncrementalSnapshotterOpts) {}

  /** Stream side: a row changed; any open window on that table drops the key from its chunk. */
  noteChange(
    schema: string,
    table: string,
    cols: ColumnInfo[],
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
  ) {
    if (!this.windows.size) return;
    const name = `${schema}.${table}`;
    for (const w of this.windows.values()) {
      if (!w.open || w.table !== name) continue;
      if (before) w.changed.add(keyString(cols, before));
      if (after) w.changed.add(keyString(cols, after));
    }
  }

  /**
   * Stream side: a watermark arrived. At the high one, the chunk rows nobody changed inside the
   * window go into the buffer; `nextCommitSeq` is the sequence of the commit that will follow them.
   */
  onWatermark(id: string, kind: 'low' | 'high', nextCommitSeq: bigint) {
    const w = this.windows.get(id);
    if (!w) return;
    if (kind === 'low') {
      w.open = true;
      return;
    }
    w.open = false;
    const [schema, table] = splitName(w.table);
    const topic = topicFor(this.o.topicPrefix, schema, table);
    const now = Date.now();
    const source = { ...this.o.sourceInfo(schema, table, now), snapshot: true, snapshot_id: w.snapshotId }; // one per chunk: rendered once
    // Keys are computed only when the stream changed something in the window; a table without a
    // primary key (read as one chunk) cannot be matched by key: all its rows go out.
    const filter = w.changed.size > 0 && w.columns.some((c) => c.key);
    for (const after of w.rows ?? []) {
      if (filter && w.changed.has(keyString(w.columns, after))) continue;
      this.o.buffer.push(topic, kafkaKey(w.columns, after), {
        op: 'r',
        before: null,
        after,
        source,
        columns: w.columns,
        ts_ms: now,
      });
    }
    for (const before of w.deletes ?? []) {
      if (w.changed.has(keyString(w.columns, before))) continue; // the stream carries its newer state
      this.o.buffer.push(topic, kafkaKey(w.columns, before), {
        op: 'd',
        before,
        after: null,
        source,
        columns: w.columns,
        ts_ms: now,
      });
    }
    w.deletes = undefined;
    w.rows = null;
    w.close(nextCommitSeq);
  }

  /** The session ended: open windows can never close; their chunks are read again. */
  failAll(err: Error) {
    for (const w of this.windows.values()) w.fail(err);
    this.windows.clear();
  }

  /** Runs pending snapshots of this pipeline until the signal aborts (one loop per runner). */
  start(signal: AbortSignal) {
    if (this.loopRunning) return;
    this.loopRunning = true;
    (async () => {
      try {
        while (!signal.aborted) {
          const did = await this.runPending(signal).catch((e) => {
            if (!signal.aborted)
              this.o.log.warn({ err: (e as Error).message }, 'snapshot step failed; will resume from the last chunk');
            return false;
          });
          if (!did) await sleep(500, signal);
        }
      } finally {
        this.loopRunning = false;
        this.active = false;
      }
    })();
  }

  private async runPending(signal: AbortSignal): Promise<boolean> {
    const ctl = this.o.control;
    const status = this.o.status;
    const rows = await ctl.query(
      `SELECT * FROM snapshots WHERE pipeline_id = $1 AND status IN ('pending','running') ORDER BY created_at LIMIT 1`,
      [this.o.pipelineId],
    );
    if (!rows.length) {
      this.active = false;
      if (status.state === 'snapshotting') status.state = 'streaming';
      return false;
    }
    const snap = rows[0];
    this.active = true;
    if (status.state === 'streaming') status.state = 'snapshotting';
    const progress: Record<string, any> = snap.progress ?? {};
    await ctl.query(`UPDATE snapshots SET status = 'running', updated_at = now() WHERE id = $1`, [snap.id]);
    const reader = await this.o.openReader();
    try {
      for (const name of snap.tables as string[]) {
        const t = this.o.tables().find((x) => `${x.schema}.${x.table}` === name);
        const p = (progress[name] = progress[name] ?? { rows: 0, last_key: null, done: false, total_estimate: null });
        if (!t) {
          p.done = true;
          p.error = 'table is not captured by this source';
          continue;
        }
        const gapDeletes =
          snap.reason === 'slot_lost' && !p.gap_deletes_done && !!reader.presentKeys && !!this.o.liveKeys;
        if (p.done && !gapDeletes) continue;
        if (p.total_estimate == null) {
          p.total_estimate = await reader.count(t, snap.filter);
          await ctl.query(`UPDATE snapshots SET progress = $2, updated_at = now() WHERE id = $1`, [
            snap.id,
            JSON.stringify(progress),
          ]);
        }
        const cols = await reader.columns(t);
        const chunk = snap.mode === 'blocking' || !cols.some((c) => c.key) ? 0 : this.o.chunkSize();
        // Chunks are pipelined: the next chunk is read while Kafka acknowledges the previous ones.
        // Each window opens after the previous high watermark, so windows never overlap; progress
        // is stored strictly in chunk order, each only after Kafka acknowledged it (its high
        // watermark's commit), so a successor resumes after the last acknowledged chunk.
        const maxInFlight = Math.max(1, Number(process.env.SLUICE_SNAPSHOT_CHUNKS_IN_FLIGHT ?? 3));
        const inFlight: { w: ChunkWindow; rows: number; lastKey: unknown[] | null; last: boolean; seq: bigint }[] = [];
        /** The oldest chunk in flight is in Kafka: record its progress. */
        const settle = async () => {
          const c = inFlight.shift()!;
          this.windows.delete(c.w.id);
          p.rows += c.rows;
          if (c.lastKey) p.last_key = c.lastKey;
          if (c.last) p.done = true;
          await ctl.query(`UPDATE snapshots SET progress = $2, updated_at = now() WHERE id = $1`, [
            snap.id,
            JSON.stringify(progress),
          ]);
          metrics.snapshotRows.inc({ pipeline: this.o.pipelineId }, c.rows);
        };
        let readKey: unknown[] | null = p.last_key;
        let readRows = p.rows as number;
        let readAll = !!p.done; // done already: only the gap-delete pass is left
        try {
          while (!signal.aborted && (!readAll || inFlight.length)) {
            while (inFlight.length && this.o.buffer.ackedSeq >= inFlight[0].seq) await settle();
            if (!readAll && inFlight.length < maxInFlight) {
              const w = openWindow(snap.id, name, readRows, cols);
              this.windows.set(w.id, w);
              await reader.lowWatermark(w);
              const res = await reader.readChunk(t, cols, chunk ? readKey : null, snap.filter, chunk);
              w.rows = res.rows;
              const seq = await reader.highWatermark(w, signal);
              const last = !chunk || res.rows.length < chunk;
              inFlight.push({ w, rows: res.rows.length, lastKey: res.lastKey, last, seq });
              readRows += res.rows.length;
              if (res.lastKey) readKey = res.lastKey;
              readAll = last;
              continue;
            }
            if (!inFlight.length) continue;
            const acked = this.o.buffer.waitAcked(inFlight[0].seq);
            while (!signal.aborted && !(await Promise.race([acked.then(() => true), sleep(200).then(() => false)]))) {
              /* wait for Kafka */
            }
            if (signal.aborted) return true;
            await settle();
          }
        } finally {
          for (const c of inFlight) this.windows.delete(c.w.id);
          for (const id of [...this.windows.keys()]) if (id.startsWith(`${snap.id}:${name}:`)) this.windows.delete(id);
        }
        if (signal.aborted) return true;
        if (gapDeletes) {
          await this.deleteGap(snap, t, cols, reader, p, signal);
          if (signal.aborted) return true;
          await ctl.query(`UPDATE snapshots SET progress = $2, updated_at = now() WHERE id = $1`, [
            snap.id,
            JSON.stringify(progress),
          ]);
        }
      }
      await ctl.query(
        `UPDATE snapshots SET status = 'done', progress = $2, updated_at = now(), finished_at = now() WHERE id = $1`,
        [snap.id, JSON.stringify(progress)],
      );
      this.o.log.info({ snapshot_id: snap.id, tables: snap.tables }, 'snapshot finished');
      return true;
    } finally {
      await reader.close();
    }
  }

  /**
   * After a replication gap the snapshot re-emits every row that exists, but a row deleted while no
   * slot existed is simply absent: nothing would delete it downstream. So the keys still live in the
   * table's topic are checked against the table, in watermark windows like chunks: a key absent from
   * the table when read, and not changed by the stream inside the window, is deleted at the high
   * watermark's position (op `d`, `source.snapshot` true). A crash repeats the pass (idempotent):
   * `gap_deletes_done` is recorded only after it.
   */
  private async deleteGap(
    snap: { id: string },
    t: TableInfo,
    cols: ColumnInfo[],
    reader: SnapshotReader,
    p: Record<string, any>,
    signal: AbortSignal,
  ) {
    if (!cols.some((c) => c.key)) {
      p.gap_deletes_done = true;
      p.gap_deletes = 0;
      return;
    } // no key: nothing to match
    const name = `${t.schema}.${t.table}`;
    const live = await this.o.liveKeys!(t, signal);
    const keys = [...live].map((k) => JSON.parse(k) as Record<string, unknown>);
    const size = Math.max(1, this.o.chunkSize());
    let deleted = 0;
    for (let i = 0; i < keys.length && !signal.aborted; i += size) {
      const batch = keys.slice(i, i + size);
      const w = openWindow(snap.id, name, `gap:${i}`, cols);
      this.windows.set(w.id, w);
      try {
        await reader.lowWatermark(w);
        const present = await reader.presentKeys!(t, cols, batch);
        w.deletes = batch.filter((k) => !present.has(keyString(cols, k)));
        const gone = w.deletes.length;
        const seq = await reader.highWatermark(w, signal);
        const acked = this.o.buffer.waitAcked(seq);
        while (!signal.aborted && !(await Promise.race([acked.then(() => true), sleep(200).then(() => false)]))) {
          /* wait for Kafka */
        }
        deleted += gone;
      } finally {
        this.windows.delete(w.id);
      }
    }
    if (signal.aborted) return;
    p.gap_deletes = deleted;
    p.gap_deletes_done = true;
    this.o.log[deleted ? 'warn' : 'info'](
      { table: name, checked: keys.length, deleted },
      'replication gap: rows deleted at the source while no slot existed were deleted downstream',
    );
  }
}

/** Schedules a snapshot of `tables` (the initial one, or the one that closes a gap after a lost position). */
export async function scheduleSnapshot(
  control: ControlDb,
  pipelineId: string,
  tables: TableInfo[],
  reason: string,
): Promise<void> {
  await control.query(`INSERT INTO snapshots (pipeline_id, tables, mode, reason) VALUES ($1, $2, 'incremental', $3)`, [
    pipelineId,
    JSON.stringify(tables.map((t) => `${t.schema}.${t.table}`)),
    reason,
  ]);
}

/**
 * A new watermark window over a chunk of `table`. Its id is unique to this read of the chunk: a
 * stream that resumes from an acknowledged position replays the watermarks an earlier session (or a
 * killed worker) wrote for the same chunk; with a reused id such a stale high watermark would close
 * the new window before its rows were read (the chunk counted as done, its rows never sent) and stop
 * it tracking changes.
 */
function openWindow(snapshotId: string, table: string, chunk: number | string, columns: ColumnInfo[]): ChunkWindow {
  let close!: (seq: bigint) => void;
  let fail!: (err: Error) => void;
  const closed = new Promise<bigint>((res, rej) => {
    close = res;
    fail = rej;
  });
  closed.catch(() => undefined);
  return {
    id: `${snapshotId}:${table}:${chunk}:${crypto.randomBytes(6).toString('hex')}`,
    snapshotId,
    table,
    rows: null,
    changed: new Set(),
    open: false,
    columns,
    closed,
    close,
    fail,
  };
}

function splitName(name: string): [string, string] {
  const i = name.indexOf('.');
  return [name.slice(0, i), name.slice(i + 1)];
}
