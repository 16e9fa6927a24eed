// A destination write longer than the consumer's session timeout (a slow destination, or a slice
// written record by record around a rejected one on a loaded machine) must not cost the sink its
// consumer-group membership. Found by `npm run test:repeat` (mysql/source-faults f): the sink was
// evicted while eachBatch waited for the write, the offset commit failed, and the slice was read
// and written again. Real Kafka; the destination is a fake whose first write takes 10 s.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { Envelope } from '../../workers/envelope';
import { dlqTopicFor, groupIdFor, SinkRunner } from '../../workers/sink';
import { env, sleep, waitFor } from './harness';

test('a write longer than the session timeout: the sink stays in its group, every record is written once', async () => {
  // The broker's smallest allowed session timeout (group.min.session.timeout.ms), read when the sink starts.
  process.env.SLUICE_CONSUMER_SESSION_TIMEOUT_MS = '6000';
  const kafka = new Kafka({ clientId: 'sink-heartbeat-test', brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  const tag = crypto.randomBytes(4).toString('hex');
  const topic = `hb${tag}.public.t`;
  const pipelineId = crypto.randomUUID();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const source: Envelope['source'] = { lsn: '0/1', tx_id: 1, ts_ms: 1, schema: 'public', table: 't', snapshot: false };
  const columns = [{ name: 'id', type: 'integer', oid: 23, key: true }];
  await producer.send({
    topic, acks: -1,
    messages: Array.from({ length: 20 }, (_, id) => ({ key: JSON.stringify({ id }), value: JSON.stringify({ op: 'c', before: null, after: { id }, source, columns, ts_ms: 1 }) })),
  });

  const written: string[] = [];
  const ac = new AbortController();
  const sink = new SinkRunner({
    pipelineId, kind: 'postgresql', mode: 'upsert', topics: [topic], kafka, admin, producer,
    // Two slices of 10 per fetched batch: eachBatch waits for the first slice's write before the second.
    cfg: { host: 'x', port: 1, database: 'x', user: 'x', password: 'x', table_name_format: '{table}', batch_size: 10 } as never,
    control: { query: async () => [] }, log: pino({ level: 'silent' }), signal: ac.signal,
    delivery: { max_retries: 1, backoff_initial_ms: 1, backoff_max_ms: 2 }, transforms: [], graceMs: 1000, topicPrefix: `hb${tag}`,
  });
  let first = true;
  (sink as any).writer = {
    write: async (_envs: unknown[], offsets: string[]) => {
      if (first) { first = false; await sleep(10_000); }
      written.push(...offsets);
    },
    isConnectionError: () => false, errorClass: () => 'test', close: async () => undefined,
  };
  const running = sink.run();
  try {
    const committed = async () => Number((await admin.fetchOffsets({ groupId: groupIdFor(pipelineId), topics: [topic] }))[0].partitions[0].offset);
    await waitFor('offset 20 committed', async () => (await committed()) === 20, 60_000, 500);
    await sleep(2000); // a restarted consumer would be writing the first slice again by now
  } finally {
    ac.abort();
    await running;
    await Promise.all([admin.deleteTopics({ topics: [topic, dlqTopicFor(pipelineId)] }).catch(() => undefined), producer.disconnect()]);
    await admin.disconnect();
  }
  assert.deepEqual(written, Array.from({ length: 20 }, (_, i) => String(i)), 'each record written once, in order');
});
