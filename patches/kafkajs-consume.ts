/**
 * Speed patch for KafkaJS 2.2.4's consume path (workers/kafkajs-patch.ts has the produce path).
 * KafkaJS decodes every fetched record through a new `Decoder`, computes its offset and timestamp by
 * parsing the batch's first offset / timestamp string into a 64-bit `Long` again for every record,
 * reads varlongs through `Long` arithmetic and builds the headers object with an object spread per
 * header: per record that is a dozen short-lived objects (the sink's profile showed ~20 % of its CPU
 * in that decoding and the garbage collection after it).
 *
 * This replaces the record batch decoder module (`protocol/recordBatch/v0/decoder`, "magic 2" record
 * batches) with one that reads the records of an uncompressed or decompressed batch in one pass over
 * the buffer, with plain number arithmetic while offsets and timestamps stay below 2^53 (BigInt
 * beyond), and returns exactly the message objects KafkaJS's own decoder does (same fields, string
 * offsets/timestamps, `Buffer` slices for key and value, the same headers object; checked against the
 * original by test/unit/kafkajs-consume-patch.test.ts). The batch header, the partial-batch error that the
 * fetch response relies on, and decompression are KafkaJS's own code paths.
 *
 * Hand-written because no library plugs into KafkaJS's decoder; the record layout is fixed by the
 * Kafka protocol. install() runs before kafkajs loads (patches/index.ts).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */

import { replaceModule } from './module-cache';

const TIMESTAMP_TYPE_FLAG_MASK = 0x8;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;
const TWO_53 = 2 ** 53;
const LOG_APPEND_TIME = 1; // kafkajs/src/protocol/timestampTypes

/** Reads Kafka's zigzag varints / varlongs from a buffer at a moving position. */
class Reader {
  constructor(
    public buf: Buffer,
    public pos: number,
  ) {}
  /** zigzag varint (32-bit), as KafkaJS's Decoder.readVarInt */
  varInt(): number {
    const b = this.buf;
    let byte: number;
    let result = 0;
    let shift = 0;
    do {
      if (this.pos >= b.length) throw new RangeError('varint beyond the buffer');
      byte = b[this.pos++];
      result += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    return (result >>> 1) ^ -(result & 1);
  }
  /** zigzag varlong (64-bit) as a number while exact, else a bigint */
  varLong(): number | bigint {
    const b = this.buf;
    const start = this.pos;
    let byte: number;
    let result = 0;
    let mul = 1;
    do {
      if (this.pos >= b.length) throw new RangeError('varlong beyond the buffer');
      byte = b[this.pos++];
      result += (byte & 0x7f) * mul;
      mul *= 128;
    } while (byte >= 0x80);
    if (result < TWO_53) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    // Rare: beyond 2^53, redo it exactly.
    let big = 0n;
    let s = 0n;
    for (let p = start; p < this.pos; p++) {
      big |= BigInt(b[p] & 0x7f) << s;
      s += 7n;
    }
    return (big >> 1n) ^ -(big & 1n);
  }
  bytes(): Buffer | null {
    const n = this.varInt();
    if (n < 0) return null;
    if (this.pos + n > this.buf.length) throw new RangeError('bytes beyond the buffer');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** `base + delta` as KafkaJS's Long(...).add(...).toString() gives it. */
function addToString(baseNum: number, baseStr: string, delta: number | bigint): string {
  if (typeof delta === 'number' && Number.isSafeInteger(baseNum)) {
    const r = baseNum + delta;
    if (Number.isSafeInteger(r)) return String(r);
  }
  return BigInt.asIntN(64, BigInt(baseStr) + BigInt(delta)).toString();
}

/**
 * Decodes `count` records (or up to the end of the buffer when count < 0) as KafkaJS's RecordDecoder does.
 * Each record is a varint length followed by that many bytes; the fields are read inside them.
 */
export function decodeRecords(buf: Buffer, pos: number, count: number, ctx: any): any[] {
  const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = ctx;
  const firstOffsetNum = Number(firstOffset);
  const firstTimestampNum = Number(firstTimestamp);
  const logAppend = timestampType === LOG_APPEND_TIME && maxTimestamp;
  const r = new Reader(buf, pos);
  const out: any[] = count >= 0 ? new Array(count) : [];
  for (let i = 0; count < 0 ? r.pos < buf.length : i < count; i++) {
    const length = r.varInt();
    const end = r.pos + length;
    if (length < 0 || end > buf.length) throw new RangeError('record beyond the buffer');
    const attributes = buf.readInt8(r.pos++);
    const timestampDelta = r.varLong();
    const timestamp = logAppend ? maxTimestamp : addToString(firstTimestampNum, firstTimestamp, timestampDelta);
    const offsetDelta = r.varInt();
    const offset = addToString(firstOffsetNum, firstOffset, offsetDelta);
    const key = r.bytes();
    const value = r.bytes();
    const nHeaders = r.varInt();
    const headers: Record<string, any> = {};
    for (let h = 0; h < nHeaders; h++) {
      const kb = r.bytes();
      const hk = kb === null ? 'null' : kb.toString('utf8'); // KafkaJS's readVarIntString: null -> null key, which an object stores as 'null'
      const hv = r.bytes();
      const prev = headers[hk];
      headers[hk] = prev === undefined ? hv : Array.isArray(prev) ? prev.concat([hv]) : [prev, hv];
    }
    r.pos = end; // fields a newer record version appends are skipped, as KafkaJS's per-record Decoder does
    out[i] = {
      magicByte,
      attributes,
      timestamp,
      offset,
      key,
      value,
      headers,
      isControlRecord: isControlBatch,
      batchContext: ctx,
    };
  }
  return out;
}

/** The replacement for kafkajs/src/protocol/recordBatch/v0/decoder.js (same contract). */
export function makeBatchDecoder(): (fetchDecoder: any) => Promise<any> {
  const { KafkaJSPartialMessageError } = require('kafkajs/src/errors');
  const { lookupCodecByAttributes } = require('kafkajs/src/protocol/message/compression');
  const TimestampTypes = require('kafkajs/src/protocol/timestampTypes');

  return async (fetchDecoder: any) => {
    const firstOffset = fetchDecoder.readInt64().toString();
    const length = fetchDecoder.readInt32();
    const decoder = fetchDecoder.slice(length);
    fetchDecoder.forward(length);
    const remainingBytes = Buffer.byteLength(decoder.buffer);
    if (remainingBytes < length) {
      throw new KafkaJSPartialMessageError(
        `Tried to decode a partial record batch: remainingBytes(${remainingBytes}) < recordBatchLength(${length})`,
      );
    }
    const partitionLeaderEpoch = decoder.readInt32();
    const magicByte = decoder.readInt8();
    decoder.readInt32(); // CRC: KafkaJS does not validate it either
    const attributes = decoder.readInt16();
    const lastOffsetDelta = decoder.readInt32();
    const firstTimestamp = decoder.readInt64().toString();
    const maxTimestamp = decoder.readInt64().toString();
    const producerId = decoder.readInt64().toString();
    const producerEpoch = decoder.readInt16();
    const firstSequence = decoder.readInt32();
    const inTransaction = (attributes & TRANSACTIONAL_FLAG_MASK) > 0;
    const isControlBatch = (attributes & CONTROL_FLAG_MASK) > 0;
    const timestampType =
      (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? TimestampTypes.LOG_APPEND_TIME : TimestampTypes.CREATE_TIME;
    const codec = lookupCodecByAttributes(attributes);
    const recordContext = {
      firstOffset,
      firstTimestamp,
      partitionLeaderEpoch,
      inTransaction,
      isControlBatch,
      lastOffsetDelta,
      producerId,
      producerEpoch,
      firstSequence,
      maxTimestamp,
      timestampType,
    };
    const ctx = { ...recordContext, magicByte };

    const count = decoder.readInt32();
    let records: any[];
    if (!codec) {
      // KafkaJS's readArray: a negative count is an empty array.
      records = count < 0 ? [] : decodeRecords(decoder.buffer, decoder.offset, count, ctx);
    } else if (count <= 0) {
      records = [];
    } else {
      const decompressed: Buffer = await codec.decompress(decoder.readAll());
      records = decodeRecords(decompressed, 0, count, ctx);
    }
    return { ...recordContext, records };
  };
}

/** Swaps the record batch decoder into Node's module cache (before kafkajs loads); throws a PatchMismatchError when it cannot. */
export function install(): string[] {
  replaceModule('kafkajs/src/protocol/recordBatch/v0/decoder', 'function', () => makeBatchDecoder());
  return ['record batch decoder'];
}
