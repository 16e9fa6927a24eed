import crypto from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { sleep } from '../core/retry';

/**
 * The keys whose latest event in a table's topic is not a delete: the rows the destination holds
 * (a truncate forgets every key before it). Read from the beginning of the topic up to its end at
 * the time of the call, with a throwaway consumer group that is deleted afterwards.
 *
 * Used after a replication gap (slot lost): a snapshot sees only the rows that still exist, so the
 * keys that are live here but gone from the source are the rows deleted while no slot existed. Only
 * as complete as the topic's retention: a key whose events were all deleted by retention is unknown.
 */
export async function liveKeys(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  signal: AbortSignal,
  stallMs = 60000,
): Promise<Set<string>> {
  const ends = await admin.fetchTopicOffsets(topic);
  const want = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]));
  const live = new Set<string>();
  if (!want.size) return live;
  const groupId = `sluice-keyscan-${crypto.randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 4 * 1024 * 1024, maxWaitTimeInMs: 100 });
  const remaining = new Set(want.keys());
  let progressAt = Date.now();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = want.get(batch.partition) ?? 0;
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset >= end) break;
          progressAt = Date.now();
          const op = opOf(m.value);
          if (op === 't')
            live.clear(); // a truncate has no key and empties the table
          else if (m.key) {
            const k = m.key.toString();
            if (op === 'd') live.delete(k);
            else live.add(k);
          }
          if (offset === end - 1) remaining.delete(batch.partition);
        }
      },
    });
    while (remaining.size && !signal.aborted) {
      if (Date.now() - progressAt > stallMs)
        throw new Error(`reading the keys of topic ${topic} made no progress for ${stallMs} ms`);
      await sleep(50, signal);
    }
    if (signal.aborted) throw new Error('aborted');
    return live;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}

/** The envelope's op: the encoder writes it first (`{"op":"c",...`); anything else is parsed. */
function opOf(value: Buffer | null): string | null {
  if (!value) return null;
  const head = value.toString('latin1', 0, 10);
  if (head.startsWith('{"op":"') && head[8] === '"') return head[7];
  try {
    return (JSON.parse(value.toString()) as { op?: string } | null)?.op ?? null;
  } catch {
    return null;
  }
}
