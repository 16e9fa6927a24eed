import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';

/**
 * workers/kafkajs-patch.ts must produce exactly KafkaJS's bytes and partitions. KafkaJS's own
 * modules are loaded first (the patch then leaves the loaded ones alone), and the replacements are
 * called through the patch's exports.
 */
/* eslint-disable @typescript-eslint/no-var-requires */
const originalProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request');
const originalFraming = require('kafkajs/src/protocol/request');
const originalMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2');
const Long = require('kafkajs/src/utils/long');
const patch = require('../../patches/kafkajs-produce') as typeof import('../../patches/kafkajs-produce');

const rnd = (n: number) => crypto.randomInt(n);
function randomText(len: number): string {
  const alphabet = ['a', 'Z', '0', '"', '\\', 'é', 'ü', '€', '中', '😀', ' ', '{', '}'];
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[rnd(alphabet.length)];
  return s;
}
function randomBytesField(): unknown {
  switch (rnd(5)) {
    case 0:
      return null;
    case 1:
      return crypto.randomBytes(rnd(300));
    case 2:
      return randomText(rnd(50));
    case 3:
      return JSON.stringify({ id: rnd(1e9), name: randomText(rnd(200)) });
    default:
      return 'x'.repeat(rnd(20000)); // multi-byte length varints
  }
}
const sharedHeaders = {
  'sluice.columns': Buffer.from(
    JSON.stringify([
      { name: 'id', type: 'bigint', key: true },
      { name: 'é', type: 'text', key: false },
    ]),
  ),
};
function randomMessage(withTimestamp: boolean): Record<string, unknown> {
  const m: Record<string, unknown> = { key: randomBytesField(), value: randomBytesField() ?? '' };
  const h = rnd(4);
  if (h === 1) m.headers = { 'sluice.columns': JSON.stringify([{ name: 'id', type: 'bigint', key: true }]) };
  if (h === 2) m.headers = { a: ['1', crypto.randomBytes(5)], ключ: 'значение' }; // KafkaJS rejects null header values
  if (h === 3) m.headers = sharedHeaders; // one object for many messages, as the change-event buffer does
  if (withTimestamp) m.timestamp = String(1700000000000 + rnd(100000));
  return m;
}

describe('kafkajs-patch: produce request encoding', () => {
  for (const variant of ['plain', 'timestamps', 'idempotent', 'transactional'] as const) {
    it(`matches KafkaJS byte for byte (${variant})`, async () => {
      for (let round = 0; round < 20; round++) {
        const topicData = Array.from({ length: 1 + rnd(3) }, (_, t) => ({
          topic: `topic.${t}.${randomText(3)}`,
          partitions: Array.from({ length: 1 + rnd(3) }, (_, p) => ({
            partition: p,
            firstSequence: variant === 'idempotent' ? rnd(1e6) : undefined,
            messages: Array.from({ length: 1 + rnd(60) }, () => randomMessage(variant === 'timestamps')),
          })),
        }));
        const args: Record<string, unknown> = { acks: -1, timeout: 30000, compression: 0, topicData };
        if (variant === 'idempotent') {
          args.producerId = Long.fromValue(rnd(1e6));
          args.producerEpoch = rnd(10);
        }
        if (variant === 'transactional') {
          args.transactionalId = 'tx-' + randomText(4);
          args.producerId = Long.fromValue(7);
          args.producerEpoch = 1;
        }
        // KafkaJS stamps batches without message timestamps with Date.now(): freeze it for the comparison.
        const realNow = Date.now;
        const now = realNow();
        Date.now = () => now;
        try {
          const expected = (await originalProduceV3(args).encode()).buffer as Buffer;
          const actual = patch.encodeProduceRequest(args);
          assert.equal(actual.length, expected.length);
          assert.ok(actual.equals(expected), `round ${round}: bytes differ`);
        } finally {
          Date.now = realNow;
        }
      }
    });
  }

  it('frames requests like KafkaJS', async () => {
    const Encoder = require('kafkajs/src/protocol/encoder');
    for (const clientId of ['sluice-1234', null, 'ünïcode']) {
      const payload = new Encoder().writeInt32(42).writeString('payload').writeBytes(crypto.randomBytes(3000));
      const request = { apiKey: 0, apiVersion: 7, encode: async () => payload };
      const expected = (await originalFraming({ correlationId: 99, clientId, request })).buffer as Buffer;
      const actual = (await patch.frameRequest({ correlationId: 99, clientId, request })).buffer as Buffer;
      assert.ok(actual.equals(expected));
    }
  });
});

describe('kafkajs-patch: murmur2', () => {
  it('gives the same hash (so the same partition) as KafkaJS', () => {
    const keys: unknown[] = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      '{"id":1}',
      '{"id":123456789}',
      'é€😀',
      'x'.repeat(600),
      12345,
      crypto.randomBytes(33),
    ];
    for (let i = 0; i < 5000; i++)
      keys.push(rnd(2) ? JSON.stringify({ id: rnd(1e12), k: randomText(rnd(30)) }) : crypto.randomBytes(rnd(64)));
    for (const k of keys) assert.equal(patch.murmur2(k), originalMurmur2(k), `key ${String(k)}`);
  });
});
