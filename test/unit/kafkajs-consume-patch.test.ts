/**
 * workers/kafkajs-consume-patch.ts decodes fetched record batches exactly as KafkaJS's own decoder:
 * record batches built with KafkaJS's encoder (keys/values null or not, repeated and null headers,
 * offsets and timestamps beyond 2^53, negative deltas, several batches back to back, a truncated
 * tail, gzip) decode to deep-equal message lists with both decoders.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { makeBatchDecoder } from '../../patches/kafkajs-consume';

/* eslint-disable @typescript-eslint/no-require-imports */
const Decoder = require('kafkajs/src/protocol/decoder');
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
const Record = require('kafkajs/src/protocol/recordBatch/record/v0');
const Long = require('kafkajs/src/utils/long');
const { Types } = require('kafkajs/src/protocol/message/compression');
const original = require('kafkajs/src/protocol/recordBatch/v0/decoder');
const patched = makeBatchDecoder();

async function batch(
  firstOffset: string,
  firstTimestamp: number,
  recs: { key: any; value: any; headers?: any; ts: number }[],
  compression = Types.None,
): Promise<Buffer> {
  const records = recs.map((r, i) =>
    Record({ offsetDelta: i, timestampDelta: r.ts, key: r.key, value: r.value, headers: r.headers ?? {} }),
  );
  const enc = await RecordBatch({
    compression,
    firstOffset: Long.fromValue(firstOffset),
    firstTimestamp,
    maxTimestamp: firstTimestamp + 1000,
    lastOffsetDelta: recs.length - 1,
    records,
  });
  return enc.buffer;
}

async function decodeAll(decoder: (d: any) => Promise<any>, buf: Buffer) {
  const d = new Decoder(buf);
  const out: any[] = [];
  while (d.canReadBytes(49)) {
    try {
      out.push(await decoder(d));
    } catch (e) {
      if ((e as Error).name === 'KafkaJSPartialMessageError') {
        out.push('partial');
        break;
      }
      throw e;
    }
  }
  return out;
}

const recs = [
  {
    key: Buffer.from('{"id":1}'),
    value: Buffer.from('{"op":"c","x":"é ✓"}'),
    headers: { 'sluice.columns': Buffer.from('[{"name":"id"}]') },
    ts: 0,
  },
  {
    key: null,
    value: Buffer.from('v'),
    headers: { a: [Buffer.from('1'), Buffer.from('2')], b: Buffer.from('') },
    ts: 5,
  },
  { key: Buffer.from('k'), value: null, headers: {}, ts: -3 },
  { key: Buffer.alloc(0), value: Buffer.alloc(300, 120), headers: { x: Buffer.from('y') }, ts: 2 ** 40 },
];

for (const [name, firstOffset, firstTs] of [
  ['small offsets', '0', 1764300000000],
  ['offsets beyond 2^53', '9007199254740990', 1764300000000],
  ['timestamps beyond 2^53', '42', 2 ** 53 + 10],
] as const) {
  test(`patched record batch decoder = KafkaJS's: ${name}`, async () => {
    const buf = Buffer.concat([
      await batch(firstOffset, firstTs, recs),
      await batch(String(BigInt(firstOffset) + 4n), firstTs + 7, recs.slice(0, 2)),
    ]);
    const a = await decodeAll(original, buf);
    const b = await decodeAll(patched, buf);
    assert.deepEqual(b, a);
    assert.equal(a.length, 2);
    // A truncated tail (as a fetch cut at max bytes returns it) is a partial batch for both.
    const cut = buf.subarray(0, buf.length - 20);
    assert.deepEqual(await decodeAll(patched, cut), await decodeAll(original, cut));
  });
}

test(`patched record batch decoder = KafkaJS's: gzip batch`, async () => {
  const buf = await batch('100', 1764300000000, recs, Types.GZIP);
  assert.deepEqual(await decodeAll(patched, buf), await decodeAll(original, buf));
});

test('a many-record batch decodes to the same messages', async () => {
  const many = Array.from({ length: 3000 }, (_, i) => ({
    key: Buffer.from(`{"id":${i}}`),
    value: Buffer.from(`{"op":"c","after":{"id":${i}}}`),
    headers: { h: Buffer.from('x'.repeat(i % 200)) },
    ts: i * 3,
  }));
  const buf = await batch('123456', 1764300000000, many);
  assert.deepEqual(await decodeAll(patched, buf), await decodeAll(original, buf));
});
