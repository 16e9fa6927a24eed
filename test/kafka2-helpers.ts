// The second Kafka cluster of the kafka destination's tests: the test stack's optional `kafka-2`
// broker (same jars, own ports and data dir, a SASL/PLAIN listener), started once per run on first
// use; and a destination topic read back as the latest state per key.
import { LocalStack } from '../stack/stack';
import { kafkajs } from '../patches';
import { sortByKeyText, topicRecords } from './dataplane/harness';

export const kafka2Stack = new LocalStack({ log: () => undefined });
let started: Promise<Kafka2> | null = null;

/** PLAINTEXT brokers (the tests read there), and the SASL listener with its login (the destination writes there). */
export interface Kafka2 {
  brokers: string[];
  saslBrokers: string[];
  saslUser: string;
  saslPassword: string;
}

export function startKafka2(): Promise<Kafka2> {
  started ??= (async () => {
    await kafka2Stack.startService('kafka-2');
    const ep = kafka2Stack.endpointsOf('kafka-2') as Record<string, string | string[]>;
    return {
      brokers: ep.kafkaBrokers as string[],
      saslBrokers: ep.saslBrokers as string[],
      saslUser: ep.saslUser as string,
      saslPassword: ep.saslPassword as string,
    };
  })();
  return started;
}

/**
 * A destination topic as rows: per key the last record, in either envelope (Sluice's or Debezium's
 * `{before, after, op}`); a delete or a tombstone removes the key, a truncate every key before it.
 * Values as text, in rowsOf's order (sortByKeyText).
 */
export async function topicLatest(
  brokers: string[],
  topic: string,
  cols: string[],
  key: string,
): Promise<Record<string, string | null>[]> {
  const state = new Map<string, Record<string, unknown>>();
  for (const { key: k, env } of await topicRecords(topic, brokers).catch((e) => {
    if (/does not host this topic-partition|not found/i.test(String(e))) return [];
    throw e;
  })) {
    if (env === null) {
      if (k !== null) state.delete(k);
      continue;
    }
    if (env.op === 't') {
      state.clear();
      continue;
    }
    if (k === null) continue;
    if (env.op === 'd') state.delete(k);
    else state.set(k, env.after);
  }
  const rows = [...state.values()].map((r) =>
    Object.fromEntries(cols.map((c) => [c, r[c] === null || r[c] === undefined ? null : String(r[c])])),
  );
  return sortByKeyText(rows, key);
}

/** Deletes every record of a topic (a destination "truncate": the next snapshot fills it again). */
export async function deleteTopicRecords(brokers: string[], topic: string): Promise<void> {
  const { Kafka } = kafkajs();
  const admin = new Kafka({ brokers, logLevel: 0 }).admin();
  await admin.connect();
  try {
    const parts = await admin.fetchTopicOffsets(topic);
    await admin.deleteTopicRecords({
      topic,
      partitions: parts.map((p) => ({ partition: p.partition, offset: p.high })),
    });
  } finally {
    await admin.disconnect();
  }
}
