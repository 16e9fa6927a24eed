import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Producer } from 'kafkajs';
import { newSourceStatus } from '../../workers/source-status';
import { ColumnInfo, Envelope } from '../../core/change-event';

// Read when the buffer module loads: set before the dynamic import below.
process.env.SLUICE_TX_SPILL_EVENTS = '1000';

const cols: ColumnInfo[] = [{ name: 'id', type: 'integer', oid: 23, key: true }];
const source: Envelope['source'] = { lsn: '0/1', tx_id: 1, ts_ms: 1, schema: 'public', table: 't', snapshot: false };
const until = async (what: string, f: () => boolean) => {
  for (const end = Date.now() + 5000; !f(); await new Promise((r) => setTimeout(r, 5)))
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
};

test(
  'a transaction of more events than SLUICE_TX_SPILL_EVENTS goes to ' +
    'Kafka in parts, with backpressure; its position is acknowledged only ' +
    'at its commit',
  async () => {
    const { ChangeEventBuffer } = await import('../../workers/change-event-buffer');
    const sent: number[] = [];
    let release: (() => void) | null = null;
    let slow = true;
    const producer = {
      sendBatch: async (b: { topicMessages: { messages: unknown[] }[] }) => {
        if (slow)
          await new Promise<void>((r) => {
            release = r;
          }); // Kafka is slow: the buffer fills
        sent.push(b.topicMessages.reduce((a, t) => a + t.messages.length, 0));
      },
    } as unknown as Producer;
    const acks: bigint[] = [];
    const ac = new AbortController();
    const buf = new ChangeEventBuffer<string>({
      producer,
      log: pino({ level: 'silent' }),
      graceMs: 60000,
      signal: ac.signal,
      status: newSourceStatus(),
      snapshotActive: () => false,
      onAck: (_pos, seq) => {
        acks.push(seq);
      },
    });
    buf.reset(0n);
    const loop = buf.flushLoop(ac.signal);
    let pushed = 0;
    let waited = false;
    const writer = (async () => {
      for (let i = 0; i < 5000; i++) {
        buf.push('t', `{"id":${i}}`, { op: 'c', before: null, after: { id: i }, source, columns: cols, ts_ms: 1 });
        pushed++;
        if (buf.full) {
          waited = true;
          await buf.room();
        }
      }
    })();
    // The first part (>= 1,000 events, no commit yet) is on its way to Kafka while the source keeps decoding...
    await until('first part sent', () => release !== null);
    // ...until 2 x 1,000 events are buffered: then the source waits.
    await until('source waits', () => waited);
    assert.ok(
      pushed < 5000 && buf.pendingMessages >= 2000,
      `source paused at ${pushed} events, ${buf.pendingMessages} buffered`,
    );
    slow = false;
    release!();
    await writer;
    await until('all parts sent', () => sent.reduce((a, b) => a + b, 0) === 5000);
    assert.ok(sent.length >= 2, `sent in ${sent.length} parts`);
    assert.deepEqual(acks, [], 'nothing acknowledged before the commit');
    await buf.commit(42n, 'pos-42');
    await buf.drain();
    assert.deepEqual(acks, [42n]);
    ac.abort();
    await loop;
  },
);

test(
  'a flush loop of an ended session that is still retrying Kafka stops ' +
    'when the next session starts: it never sends or acknowledges the next ' +
    "session's events",
  async () => {
    const { ChangeEventBuffer } = await import('../../workers/change-event-buffer');
    let down = true;
    const sent: number[][] = [];
    const producer = {
      sendBatch: async (b: { topicMessages: { messages: { key: string }[] }[] }) => {
        if (down) throw new Error('broker not available');
        sent.push(b.topicMessages.flatMap((t) => t.messages.map((m) => Number(JSON.parse(m.key).id))));
      },
    } as unknown as Producer;
    const acks: bigint[] = [];
    const buf = new ChangeEventBuffer<string>({
      producer,
      log: pino({ level: 'silent' }),
      graceMs: 60000,
      signal: new AbortController().signal,
      status: newSourceStatus(),
      snapshotActive: () => false,
      onAck: (_p, seq) => {
        acks.push(seq);
      },
    });
    const push = (id: number) =>
      buf.push('t', JSON.stringify({ id }), { op: 'c', before: null, after: { id }, source, columns: cols, ts_ms: 1 });
    buf.reset(0n);
    const first = new AbortController();
    const oldLoop = buf.flushLoop(first.signal);
    push(1);
    push(2);
    await buf.commit(10n, 'pos-10');
    await new Promise((r) => setTimeout(r, 300)); // the old loop holds events 1, 2 and keeps failing
    first.abort(); // the session ends while Kafka is down
    buf.reset(5n); // the next session re-reads from the acknowledged position
    const second = new AbortController();
    const newLoop = buf.flushLoop(second.signal);
    push(1);
    push(2);
    push(3);
    await buf.commit(20n, 'pos-20');
    down = false;
    await buf.drain();
    await oldLoop;
    assert.deepEqual(sent, [[1, 2, 3]], 'only the new session sent, once, in order');
    assert.deepEqual(acks, [20n]);
    second.abort();
    await newLoop;
  },
);
