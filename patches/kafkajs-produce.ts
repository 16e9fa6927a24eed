/**
 * Speed patches for KafkaJS 2.2.4's produce path. KafkaJS has had no release since 2023, so the
 * fixes are swapped in here as replacement modules (through Node's module cache). This file must
 * load before kafkajs itself (first import of the worker entry points); loaded later it changes
 * nothing and only speed suffers. Every replacement produces exactly the bytes (or the partition)
 * KafkaJS's own code does: `test/kafkajs-patch.test.ts` compares them with the originals.
 *
 *  1. Messages are grouped per partition in linear time (KafkaJS uses `[...current, message]`
 *     inside a reduce: quadratic, a 15,000-message batch costs ~10^8 copies).
 *  2. Produce requests (v3-v7, record batch v2, no compression) are encoded in one pass into one
 *     buffer. KafkaJS builds an Encoder per record and per header, each growing by doubling, then
 *     copies every level (record -> batch -> partition -> topic -> request -> framed request):
 *     ~40% of the worker's produce CPU went into allocating, zero-filling and copying buffers.
 *     Compressed batches keep KafkaJS's encoder.
 *  3. The record batch CRC32C comes from `@node-rs/crc32` (SIMD, napi-rs prebuilt binaries from
 *     the npm registry, widely used and maintained) instead of KafkaJS's byte-at-a-time table:
 *     ~10x faster on this machine.
 *  4. Request framing (size, api key, version, correlation id, client id) writes the payload once
 *     instead of through two doubling Encoders.
 *  5. The default partitioner's murmur2 uses 32-bit integer arithmetic (Math.imul) instead of
 *     64-bit BigInt-backed Longs. Kafka's murmur2 is a 32-bit hash and KafkaJS keeps only the low
 *     32 bits, so partition assignment is unchanged.
 * Hand-written because no library plugs into KafkaJS's encoder; the record batch layout (Kafka's
 * "magic 2" format) is fixed by the protocol.
 */
import { crc32c } from '@node-rs/crc32';
import { replaceModule } from './module-cache';

/* eslint-disable @typescript-eslint/no-explicit-any */

// ---------- 1. linear grouping ----------

type Grouper = (a: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (x: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}) => Record<number, unknown[]>;

export const groupMessagesPerPartition: Grouper = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  const out: Record<number, unknown[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (out[partition] ??= []).push(message);
  }
  return out;
};

// ---------- varints (Kafka: zigzag, 7 bits per byte, least significant first) ----------

const zigzag32 = (n: number) => ((n << 1) ^ (n >> 31)) >>> 0;
const sizeOfUVarInt = (u: number) => (u < 0x80 ? 1 : u < 0x4000 ? 2 : u < 0x200000 ? 3 : u < 0x10000000 ? 4 : 5);
function writeUVarInt(buf: Buffer, off: number, u: number): number {
  while (u >= 0x80) {
    buf[off++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[off++] = u;
  return off;
}
/** A varlong's zigzag value as a bigint (only for values beyond 32 bits, e.g. odd timestamps). */
const zigzag64 = (n: number | bigint) => {
  const b = BigInt.asIntN(64, BigInt(n));
  return BigInt.asUintN(64, (b << 1n) ^ (b >> 63n));
};
function sizeOfVarLong(n: number): number {
  if (n >= -0x40000000 && n < 0x40000000 && Number.isInteger(n)) return sizeOfUVarInt(zigzag32(n));
  let z = zigzag64(n);
  let bytes = 1;
  while (z >= 0x80n) {
    bytes++;
    z >>= 7n;
  }
  return bytes;
}
function writeVarLong(buf: Buffer, off: number, n: number): number {
  if (n >= -0x40000000 && n < 0x40000000 && Number.isInteger(n)) return writeUVarInt(buf, off, zigzag32(n));
  let z = zigzag64(n);
  while (z >= 0x80n) {
    buf[off++] = Number(z & 0x7fn) | 0x80;
    z >>= 7n;
  }
  buf[off++] = Number(z);
  return off;
}

// ---------- 2./3. produce request encoding ----------

/** Bytes fields as KafkaJS takes them: null, a Buffer, or anything else as its String() in UTF-8. */
type Bytes = Buffer | string | null;
const asBytes = (v: unknown): Bytes => (v == null ? null : Buffer.isBuffer(v) ? v : String(v));
const byteLen = (v: Bytes) => (v === null ? -1 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length);
function writeBytes(buf: Buffer, off: number, v: Bytes, len: number): number {
  off = writeUVarInt(buf, off, zigzag32(len));
  if (v === null) return off;
  if (typeof v === 'string') return off + buf.write(v, off, len, 'utf8');
  v.copy(buf, off);
  return off + len;
}

interface PlannedRecord {
  size: number;
  body: number;
  key: Bytes;
  keyLen: number;
  value: Bytes;
  valueLen: number;
  tsDelta: number;
  headers: [Bytes, number, Bytes, number][];
}
interface PlannedPartition {
  partition: number;
  records: PlannedRecord[];
  batchSize: number;
  firstSequence: number;
  firstTimestamp: string | number;
  maxTimestamp: string | number;
}

type PlannedHeaders = [Bytes, number, Bytes, number][];
const NO_HEADERS: PlannedHeaders = [];
/** Messages often share one headers object (the sluice.columns header of a table): plan it once. */
let lastHeaders: unknown = null;
let lastPlanned: { headers: PlannedHeaders; size: number } = { headers: NO_HEADERS, size: 1 };

function planHeaders(h: any): { headers: PlannedHeaders; size: number } {
  const names = h ? Object.keys(h) : [];
  if (!names.length) return { headers: NO_HEADERS, size: 1 };
  const headers: PlannedHeaders = [];
  for (const name of names) {
    const hv = h[name];
    for (const one of Array.isArray(hv) ? hv : [hv]) {
      const k = String(name);
      const v = asBytes(one);
      headers.push([k, Buffer.byteLength(k, 'utf8'), v, byteLen(v)]);
    }
  }
  let size = sizeOfUVarInt(zigzag32(headers.length));
  for (const [, kl, , vl] of headers)
    size += sizeOfUVarInt(zigzag32(kl)) + kl + sizeOfUVarInt(zigzag32(vl)) + Math.max(vl, 0);
  return { headers, size };
}

function planRecord(message: any, offsetDelta: number, tsDelta: number): PlannedRecord {
  const key = asBytes(message.key);
  const value = asBytes(message.value);
  const keyLen = byteLen(key);
  const valueLen = byteLen(value);
  const h = message.headers;
  // The same headers object as the previous message of this request: same plan.
  if (h !== lastHeaders || !h) {
    lastHeaders = h;
    lastPlanned = planHeaders(h);
  }
  const { headers, size: headersSize } = lastPlanned;
  const body =
    1 +
    sizeOfVarLong(tsDelta) +
    sizeOfUVarInt(zigzag32(offsetDelta)) +
    sizeOfUVarInt(zigzag32(keyLen)) +
    Math.max(keyLen, 0) +
    sizeOfUVarInt(zigzag32(valueLen)) +
    Math.max(valueLen, 0) +
    headersSize;
  return { size: sizeOfUVarInt(zigzag32(body)) + body, body, key, keyLen, value, valueLen, tsDelta, headers };
}

const RECORD_BATCH_OVERHEAD = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4; // 61 bytes before the records

function writeInt64(buf: Buffer, off: number, v: unknown): number {
  buf.writeBigInt64BE(
    BigInt.asIntN(
      64,
      typeof v === 'object' && v !== null && typeof (v as any).value === 'bigint' ? (v as any).value : BigInt(v as any),
    ),
    off,
  );
  return off + 8;
}
function writeString(buf: Buffer, off: number, s: string | null): number {
  if (s == null) {
    buf.writeInt16BE(-1, off);
    return off + 2;
  }
  const len = Buffer.byteLength(s, 'utf8');
  buf.writeInt16BE(len, off);
  return off + 2 + buf.write(s, off + 2, len, 'utf8');
}
const sizeOfString = (s: string | null) => 2 + (s == null ? 0 : Buffer.byteLength(s, 'utf8'));

/** Produce request v3 (v4-v7 only change the api version): transactional_id acks timeout [topic [partition record_set]]. */
function encodeProduceV3(args: any, Encoder: any): any {
  const { acks, timeout, transactionalId = null, producerEpoch = 0, topicData } = args;
  const producerId = args.producerId ?? -1n;
  lastHeaders = null; // the headers cache lives for one request only
  let size = sizeOfString(transactionalId) + 2 + 4 + 4;
  const topics: { topic: string; partitions: PlannedPartition[] }[] = [];
  for (const t of topicData) {
    const partitions: PlannedPartition[] = [];
    size += sizeOfString(t.topic) + 4;
    for (const p of t.partitions) {
      const messages: any[] = p.messages;
      const dateNow = Date.now();
      // As KafkaJS: the batch's first/max timestamp come from the messages' own timestamps (sorted the same way).
      const stamps = messages
        .map((m) => m.timestamp)
        .filter((x) => x != null)
        .sort();
      const ts = stamps.length === 0 ? [dateNow] : stamps;
      const firstTimestamp = ts[0];
      const records = messages.map((m, i) => planRecord(m, i, (m.timestamp || dateNow) - firstTimestamp));
      let batchSize = RECORD_BATCH_OVERHEAD;
      for (const r of records) batchSize += r.size;
      partitions.push({
        partition: p.partition,
        records,
        batchSize,
        firstSequence: p.firstSequence ?? 0,
        firstTimestamp,
        maxTimestamp: ts[ts.length - 1],
      });
      size += 4 + 4 + batchSize;
    }
    topics.push({ topic: t.topic, partitions });
  }
  const buf = Buffer.allocUnsafe(size);
  let off = writeString(buf, 0, transactionalId);
  off = buf.writeInt16BE(acks, off);
  off = buf.writeInt32BE(timeout, off);
  off = buf.writeInt32BE(topics.length, off);
  for (const t of topics) {
    off = writeString(buf, off, t.topic);
    off = buf.writeInt32BE(t.partitions.length, off);
    for (const p of t.partitions) {
      off = buf.writeInt32BE(p.partition, off);
      off = buf.writeInt32BE(p.batchSize, off);
      // RecordBatch: base offset, length, leader epoch, magic, crc, then the CRC'd part.
      off = writeInt64(buf, off, 0n);
      off = buf.writeInt32BE(p.batchSize - 12, off);
      off = buf.writeInt32BE(0, off);
      off = buf.writeInt8(2, off);
      const crcAt = off;
      off += 4;
      const crcFrom = off;
      off = buf.writeInt16BE(transactionalId ? 16 : 0, off); // attributes: no compression, create time, transactional bit
      off = buf.writeInt32BE(p.records.length - 1, off);
      off = writeInt64(buf, off, p.firstTimestamp);
      off = writeInt64(buf, off, p.maxTimestamp);
      off = writeInt64(buf, off, producerId);
      off = buf.writeInt16BE(producerEpoch, off);
      off = buf.writeInt32BE(p.firstSequence, off);
      off = buf.writeInt32BE(p.records.length, off);
      for (let i = 0; i < p.records.length; i++) {
        const r = p.records[i];
        off = writeUVarInt(buf, off, zigzag32(r.body));
        buf[off++] = 0; // record attributes
        off = writeVarLong(buf, off, r.tsDelta);
        off = writeUVarInt(buf, off, zigzag32(i));
        off = writeBytes(buf, off, r.key, r.keyLen);
        off = writeBytes(buf, off, r.value, r.valueLen);
        off = writeUVarInt(buf, off, zigzag32(r.headers.length));
        for (const [k, kl, v, vl] of r.headers) {
          off = writeBytes(buf, off, k, kl);
          off = writeBytes(buf, off, v, vl);
        }
      }
      buf.writeUInt32BE(crc32c(buf.subarray(crcFrom, off)) >>> 0, crcAt);
    }
  }
  if (off !== size) throw new Error(`produce request encoding: wrote ${off} bytes, planned ${size}`);
  return encoderOf(Encoder, buf);
}

/** A KafkaJS Encoder holding `buf` as written content (what request framing and the socket read). */
function encoderOf(Encoder: any, buf: Buffer): any {
  const e = new Encoder(0);
  e.buf = buf;
  e.offset = buf.length;
  return e;
}

/** KafkaJS's produce request v3 with our encoder for uncompressed batches. */
function produceV3(kafkajsV3: (args: any) => any): (args: any) => any {
  const Encoder = require('kafkajs/src/protocol/encoder');
  const { Types } = require('kafkajs/src/protocol/message/compression');
  return (args: any) => {
    const req = kafkajsV3(args);
    if ((args.compression ?? Types.None) !== Types.None) return req;
    return { ...req, encode: async () => encodeProduceV3(args, Encoder) };
  };
}

// ---------- 4. request framing ----------

/** KafkaJS's protocol/request: the framed request (size, header, payload) as an Encoder. */
export async function frameRequest({
  correlationId,
  clientId,
  request: { apiKey, apiVersion, encode },
}: any): Promise<any> {
  const Encoder = require('kafkajs/src/protocol/encoder');
  const payload = await encode();
  const body = payload.buffer as Buffer;
  const size = 2 + 2 + 4 + sizeOfString(clientId) + body.length;
  const buf = Buffer.allocUnsafe(4 + size);
  let off = buf.writeInt32BE(size, 0);
  off = buf.writeInt16BE(apiKey, off);
  off = buf.writeInt16BE(apiVersion, off);
  off = buf.writeInt32BE(correlationId, off);
  off = writeString(buf, off, clientId);
  body.copy(buf, off);
  return encoderOf(Encoder, buf);
}

// ---------- 5. murmur2 ----------

const scratch = Buffer.allocUnsafe(1024);
const M = 0x5bd1e995;
/** Kafka's murmur2 (seed 0x9747b28c) in 32-bit arithmetic; same result as KafkaJS's Long version. */
export function murmur2(key: unknown): number {
  let data: Buffer;
  let length: number;
  if (Buffer.isBuffer(key)) {
    data = key;
    length = key.length;
  } else {
    const s = String(key);
    // Encode into a scratch buffer when it surely fits (3 bytes per UTF-16 unit at most): no allocation per key.
    if (s.length * 3 <= scratch.length) {
      data = scratch;
      length = scratch.write(s, 0, 'utf8');
    } else {
      data = Buffer.from(s);
      length = data.length;
    }
  }
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[length4 + 2] << 16; // falls through
    case 2:
      h ^= data[length4 + 1] << 8; // falls through
    case 1:
      h ^= data[length4];
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Swaps the replacements into Node's module cache; must run before kafkajs loads (patches/index.ts).
 * Throws a PatchMismatchError when a module is not where (or not what) it was in the version checked.
 */
export function install(): string[] {
  replaceModule('kafkajs/src/protocol/requests/produce/v3/request', 'function', produceV3);
  replaceModule('kafkajs/src/protocol/request', 'function', () => frameRequest);
  replaceModule('kafkajs/src/producer/groupMessagesPerPartition', 'function', () => groupMessagesPerPartition);
  replaceModule('kafkajs/src/producer/partitioners/default/murmur2', 'function', () => murmur2);
  return ['produce v3 encoder', 'request framing', 'linear grouping', 'murmur2'];
}

/** For tests: the replacement produce encoder, callable on KafkaJS's own arguments. */
export function encodeProduceRequest(args: any): Buffer {
  return encodeProduceV3(args, require('kafkajs/src/protocol/encoder')).buffer;
}
