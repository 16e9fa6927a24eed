/**
 * KafkaJS 2.2.4 groups a produce request's messages per partition with `[...current, message]`
 * inside a reduce: quadratic in the batch size (a 15,000-message batch costs ~10^8 copies). This
 * replaces that module with a linear one. It must load before kafkajs itself (first import of the
 * worker entry points); loaded later it changes nothing and only speed suffers.
 */
type Grouper = (a: { topic: string; partitionMetadata: unknown[]; messages: unknown[]; partitioner: (x: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number }) => Record<number, unknown[]>;

const linear: Grouper = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  const out: Record<number, unknown[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (out[partition] ??= []).push(message);
  }
  return out;
};

try {
  const file = require.resolve('kafkajs/src/producer/groupMessagesPerPartition');
  if (!require.cache[file]) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    require.cache[file] = { id: file, filename: file, loaded: true, exports: linear, children: [], paths: [] } as any;
  }
} catch { /* kafkajs layout changed: keep its own implementation */ }

export const kafkajsPatched = true;
