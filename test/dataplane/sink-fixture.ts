import crypto from 'node:crypto';
import pino from 'pino';
import type { Envelope } from '../../core/change-event';
import { dlqTopicFor, groupIdFor } from '../../core/names';
import { kafkajs } from '../../patches';
import { SinkRunner } from '../../workers/sink';
import { env } from './harness';

/**
 * A real SinkRunner on the test stack's Kafka, on a topic of its own, writing into a fake
 * destination that records the offsets it was given (`write` may delay): for tests of the sink's
 * consumer behaviour (group membership, restarts) without a database.
 */
export async function sinkOnFakeDestination(opts: { batchSize: number; write?: (offsets: string[]) => Promise<void> }) {
  const { Kafka, logLevel } = kafkajs();
  const kafka = new Kafka({ clientId: 'sink-fixture', brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  const tag = crypto.randomBytes(4).toString('hex');
  const topic = `sf${tag}.public.t`;
  const pipelineId = crypto.randomUUID();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const source: Envelope['source'] = { lsn: '0/1', tx_id: 1, ts_ms: 1, schema: 'public', table: 't', snapshot: false };
  const columns = [{ name: 'id', type: 'integer', oid: 23, key: true }];
  let next = 0;
  const produce = async (n: number) => {
    const ids = Array.from({ length: n }, () => next++);
    await producer.send({
      topic,
      acks: -1,
      messages: ids.map((id) => ({
        key: JSON.stringify({ id }),
        value: JSON.stringify({ op: 'c', before: null, after: { id }, source, columns, ts_ms: 1 }),
      })),
    });
  };
  const written: string[] = [];
  const ac = new AbortController();
  const sink = new SinkRunner({
    pipelineId,
    kind: 'postgresql',
    mode: 'upsert',
    schemaChanges: 'propagate',
    topics: [topic],
    kafka,
    admin,
    producer,
    cfg: {
      host: 'x',
      port: 1,
      database: 'x',
      user: 'x',
      password: 'x',
      table_name_format: '{table}',
      batch_size: opts.batchSize,
    } as never,
    control: { query: async () => [] },
    log: pino({ level: 'silent' }),
    signal: ac.signal,
    delivery: { max_retries: 1, backoff_initial_ms: 1, backoff_max_ms: 2 },
    transforms: [],
    graceMs: 1000,
    topicPrefix: `sf${tag}`,
  });
  (sink as any).writer = {
    write: async (_envs: unknown[], offsets: string[]) => {
      await opts.write?.(offsets);
      written.push(...offsets);
    },
    isConnectionError: () => false,
    errorClass: () => 'test',
    close: async () => undefined,
  };
  const running = sink.run();
  const committed = async () =>
    Number((await admin.fetchOffsets({ groupId: groupIdFor(pipelineId), topics: [topic] }))[0].partitions[0].offset);
  const close = async () => {
    ac.abort();
    await running;
    await Promise.all([
      admin.deleteTopics({ topics: [topic, dlqTopicFor(pipelineId)] }).catch(() => undefined),
      producer.disconnect(),
    ]);
    await admin.disconnect();
  };
  return { sink, produce, written, committed, close };
}
