// The sink's handling of rejected records within one slice (SinkRunner.deliver), with a fake
// destination that rejects some records: per-key order, healthy keys first, barriers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { SinkRunner } from '../../workers/sink';
import { ColumnInfo, Envelope, Op } from '../../core/change-event';

const cols: ColumnInfo[] = [
  { name: 'id', type: 'integer', oid: 23, key: true },
  { name: 'v', type: 'text', oid: 25, key: false },
];
const source: Envelope['source'] = { lsn: '0/1', tx_id: 1, ts_ms: 1, schema: 'public', table: 't', snapshot: false };

/** Events in the order the destination saw them: `write k@offset`, `dlq k@offset`. */
function harness(opts: { partial?: boolean } = {}) {
  const events: string[] = [];
  const label = (offset: string, env: Envelope) =>
    `${env.op === 't' ? 'truncate' : `k${(env.after ?? env.before)!.id}`}@${offset}`;
  const writer = {
    write: async (envs: Envelope[], offsets: string[]) => {
      const bad = envs.map((e, i) => (e.after?.v === 'bad' ? i : -1)).filter((i) => i >= 0);
      // A bulk-API writer (PartialWrite): applies every record but the bad ones, in order, whatever their keys.
      if (opts.partial) {
        if (envs.length > 1) events.push(`bulk of ${envs.length}`);
        envs.forEach((e, i) => {
          if (!bad.includes(i)) events.push(`write ${label(offsets[i], e)}`);
        });
        return bad.length
          ? { rejected: bad.map((index) => ({ index, error: new Error('rejected by the mapping') })) }
          : undefined;
      }
      if (bad.length) throw new Error('rejected by a constraint');
      envs.forEach((e, i) => events.push(`write ${label(offsets[i], e)}`));
    },
    isConnectionError: () => false,
    errorClass: () => 'test_reject',
    close: async () => undefined,
  };
  const sink = new SinkRunner({
    pipelineId: '00000000-0000-0000-0000-000000000000',
    kind: 'postgresql',
    cfg: {
      host: 'x',
      port: 1,
      database: 'x',
      user: 'x',
      password: 'x',
      table_name_format: '{table}',
      batch_size: 100,
    } as never,
    mode: 'upsert',
    topics: ['p.public.t'],
    kafka: {} as never,
    admin: {} as never,
    producer: {
      send: async (m: { messages: { value: string }[] }) => {
        const env = JSON.parse(m.messages[0].value);
        events.push(`dlq k${env.after.id}`);
      },
    } as never,
    control: { query: async () => [{ id: '1' }] },
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    delivery: { max_retries: 1, backoff_initial_ms: 1, backoff_max_ms: 2 },
    transforms: [],
    graceMs: 1000,
    topicPrefix: 'p',
    schemaChanges: 'propagate',
  });
  (sink as any).writer = writer;
  let offset = 0;
  const rec = (op: Op, id: number | null, v: string | null) => {
    const env: Envelope = { op, before: null, after: id === null ? null : { id, v }, source, columns: cols, ts_ms: 1 };
    return {
      topic: 'p.public.t',
      partition: 0,
      offset: String(offset++),
      key: id === null ? null : Buffer.from(JSON.stringify({ id })),
      raw: JSON.stringify(env),
      cols: null,
      env,
    };
  };
  const deliver = (recs: unknown[]) =>
    (sink as any).deliver({ good: recs, poison: [], schema: [] }, async () => undefined) as Promise<void>;
  return { events, rec, deliver };
}

test('a rejected record holds back only the later records of its key; other keys are written first', async () => {
  const h = harness();
  await h.deliver([
    h.rec('c', 1, 'a'),
    h.rec('u', 1, 'bad'),
    h.rec('u', 1, 'c'),
    h.rec('c', 2, 'd'),
    h.rec('c', 3, 'e'),
  ]);
  assert.deepEqual(h.events, ['write k1@0', 'write k2@3', 'write k3@4', 'dlq k1', 'write k1@2']);
});

test('a truncate behind a rejected record waits for it, and so does everything after the truncate', async () => {
  const h = harness();
  await h.deliver([h.rec('c', 1, 'bad'), h.rec('c', 2, 'ok'), h.rec('t', null, null), h.rec('c', 3, 'after')]);
  assert.deepEqual(h.events, ['write k2@1', 'dlq k1', 'write truncate@2', 'write k3@3']);
});

// Writers whose batch can partly fail (PartialWrite): the rest of the batch counts as written; the
// rejected records take the per-key retry/DLQ path, and what must follow them is re-applied after.
test(
  'a partial write: only the rejected record is retried and sent to the ' +
    'DLQ; the rest of the bulk is not written again',
  async () => {
    const h = harness({ partial: true });
    await h.deliver([h.rec('c', 1, 'a'), h.rec('c', 2, 'bad'), h.rec('c', 3, 'c')]);
    assert.deepEqual(h.events, ['bulk of 3', 'write k1@0', 'write k3@2', 'dlq k2']);
  },
);

test(
  'a partial write that applied a later record of a rejected key: that ' +
    'record is re-applied after the rejected one settles',
  async () => {
    const h = harness({ partial: true });
    await h.deliver([h.rec('c', 1, 'a'), h.rec('u', 1, 'bad'), h.rec('u', 1, 'c'), h.rec('c', 2, 'd')]);
    // k1's last state is 'c' again after its rejected update went to the DLQ; k2 is written once.
    assert.deepEqual(h.events, ['bulk of 4', 'write k1@0', 'write k1@2', 'write k2@3', 'dlq k1', 'write k1@2']);
  },
);

test(
  'a partial write with a barrier after the rejection: the barrier and ' +
    'everything after it are re-applied in order after it',
  async () => {
    const h = harness({ partial: true });
    await h.deliver([h.rec('c', 1, 'bad'), h.rec('c', 2, 'ok'), h.rec('t', null, null), h.rec('c', 3, 'after')]);
    assert.deepEqual(h.events, [
      'bulk of 4',
      'write k2@1',
      'write truncate@2',
      'write k3@3',
      'dlq k1',
      'write truncate@2',
      'write k3@3',
    ]);
  },
);
