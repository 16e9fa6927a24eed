// Incremental snapshot windows against a stream that replays old watermarks: after a kill -9 (or a
// session reconnect) the stream resumes from the acknowledged position and reads again the low and
// high watermarks the earlier run wrote for the chunk being resumed. Found by `npm run test:repeat`
// (d2, MariaDB source: one 500-row chunk missing at the destination after the snapshot resumed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { ColumnInfo } from '../../core/change-event';
import type { ChunkWindow, SnapshotReader, TableInfo } from '../../connectors/module';
import type { ChangeEventBuffer } from '../../workers/change-event-buffer';
import type { ControlDb } from '../../workers/control-db';
import { IncrementalSnapshotter } from '../../workers/incremental-snapshot';
import type { SourceStatus } from '../../workers/source-status';

const COLS: ColumnInfo[] = [
  { name: 'id', type: 'int8', oid: 20, key: true },
  { name: 'v', type: 'int8', oid: 20, key: false },
];
const TABLE: TableInfo = { schema: 's', table: 'big', oid: 1, columns: COLS, topic: 't.s.big' };
const ROWS = Array.from({ length: 6 }, (_, i) => ({ id: String(i + 1), v: String(i + 1) }));

/** One snapshot row in a fake control DB, shared by the runs (its progress is what a successor resumes from). */
function controlDb() {
  const snap = { id: 'snap-1', tables: ['s.big'], progress: null as unknown, mode: 'incremental', reason: 'manual' };
  const db = {
    snap,
    async query(sql: string, params: unknown[] = []) {
      if (sql.startsWith('SELECT')) return snap.progress && (snap as any).status === 'done' ? [] : [{ ...snap }];
      if (sql.includes('progress = $2')) snap.progress = JSON.parse(params[1] as string);
      if (sql.includes(`status = 'done'`)) (snap as any).status = 'done';
      return [];
    },
  };
  return db;
}

/**
 * A run of the snapshotter over a fake binlog-style reader (highWatermark resolves when the stream closes
 * the window) and a buffer that acknowledges at once. `beforeRead` runs inside each window, between the
 * low watermark and the chunk read: where the stream delivers what it replays or changes.
 */
function run(
  db: ReturnType<typeof controlDb>,
  opts: { beforeRead?: (w: ChunkWindow, s: IncrementalSnapshotter) => void; stopAfterChunks?: number } = {},
) {
  const pushed: { op: string; id: string }[] = [];
  const windowIds: string[] = [];
  const abort = new AbortController();
  let seq = 0n;
  let chunks = 0;
  const buffer = {
    get ackedSeq() {
      return seq;
    },
    waitAcked: async () => undefined,
    push: (_topic: string, _key: string | null, env: { op: string; after: { id: string } | null }) =>
      pushed.push({ op: env.op, id: env.after!.id }),
  } as unknown as ChangeEventBuffer<unknown>;
  const reader: SnapshotReader = {
    count: async () => ROWS.length,
    columns: async () => COLS,
    readChunk: async (_t, _c, lastKey, _f, limit) => {
      const from = lastKey ? ROWS.findIndex((r) => r.id === lastKey[0]) + 1 : 0;
      const rows = ROWS.slice(from, from + limit);
      return { rows, lastKey: rows.length ? [rows[rows.length - 1].id] : null };
    },
    lowWatermark: async (w) => {
      windowIds.push(w.id);
      s.onWatermark(w.id, 'low', seq + 1n);
      opts.beforeRead?.(w, s);
    },
    highWatermark: async (w) => {
      s.onWatermark(w.id, 'high', ++seq);
      if (++chunks === opts.stopAfterChunks) abort.abort();
      return w.closed;
    },
    close: async () => undefined,
  };
  const s = new IncrementalSnapshotter({
    pipelineId: 'p1',
    control: db as unknown as ControlDb,
    log: pino({ level: 'silent' }),
    status: { state: 'streaming' } as SourceStatus,
    buffer,
    chunkSize: () => 2,
    tables: () => [TABLE],
    topicPrefix: 't',
    openReader: async () => reader,
    sourceInfo: () => ({}) as never,
  });
  const done = (async () => {
    // One pass of the loop: runPending is what start() calls until nothing is pending.
    while (!abort.signal.aborted && (await (s as any).runPending(abort.signal))) {
      /* next pending snapshot */
    }
  })();
  return { s, pushed, windowIds, done, abort };
}

test('a watermark window id is never reused: a resumed chunk gets a new one', async () => {
  const db = controlDb();
  const first = run(db, { stopAfterChunks: 2 });
  await first.done;
  const second = run(db);
  await second.done;
  assert.equal((db.snap as any).status, 'done');
  const reused = second.windowIds.filter((id) => first.windowIds.includes(id));
  assert.deepEqual(reused, [], 'window ids of the killed run came back');
});

test('stale watermarks replayed into a resumed window neither close it nor stop change tracking', async () => {
  const db = controlDb();
  // Killed at chunk 2's high watermark (rows 3-4): only chunk 1 is recorded as done.
  const first = run(db, { stopAfterChunks: 2 });
  await first.done;
  assert.deepEqual((db.snap.progress as any)['s.big'].last_key, ['2']);
  let replayed = false;
  const second = run(db, {
    beforeRead: (_w, s) => {
      if (!replayed) {
        replayed = true;
        // The resumed stream reads the killed run's watermarks again...
        for (const id of first.windowIds) {
          s.onWatermark(id, 'low', 0n);
          s.onWatermark(id, 'high', 0n);
        }
        // ...then row 3 changes inside the new window: the stream carries its newer state.
        s.noteChange('s', 'big', COLS, null, { id: '3', v: '30' });
      }
    },
  });
  await second.done;
  assert.deepEqual(
    second.pushed.map((p) => p.id),
    ['4', '5', '6'],
  );
  assert.deepEqual((db.snap.progress as any)['s.big'].last_key, ['6']);
});
