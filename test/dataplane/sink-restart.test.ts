// test-lane: exclusive (kills the stack Kafka; test/run.sh runs it alone)
// The sink's consumer loop is the only thing that restarts its Kafka consumer. KafkaJS restarts a
// consumer by itself after a retriable crash; the loop restarted it too, and the two raced: after a
// Kafka restart the chaos soak saw a sink stuck for minutes in "Cannot subscribe to topic while
// consumer is running", its pipeline reported Active. Kills the test stack's Kafka: runs alone.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { kafkaIsOurs, withLocalKafka } from '../conformance/scenarios';
import { waitFor } from './harness';
import { sinkOnFakeDestination } from './sink-fixture';

after(async () => {
  if (kafkaIsOurs) await withLocalKafka((stack) => stack.startService('kafka')).catch(() => undefined);
});

test(
  'Kafka killed and restarted under a running sink: KafkaJS leaves the restart to the sink, which delivers afterwards',
  { skip: kafkaIsOurs ? false : 'Kafka is external (KAFKA_BROKERS): not ours to kill' },
  async () => {
    const f = await sinkOnFakeDestination({ batchSize: 100 });
    try {
      await f.produce(10);
      await waitFor('first 10 written', async () => f.written.length >= 10, 60_000, 200);
      const crashes: { restart: boolean }[] = [];
      const consumer = (f.sink as any).consumer;
      consumer.on(consumer.events.CRASH, (e: { payload: { restart: boolean } }) => crashes.push(e.payload));
      await withLocalKafka((stack) => stack.killService('kafka'));
      await waitFor('the consumer crashed', async () => crashes.length > 0, 60_000, 200);
      await withLocalKafka((stack) => stack.startService('kafka'));
      assert.ok(
        crashes.every((c) => c.restart === false),
        `KafkaJS would restart the consumer itself: ${JSON.stringify(crashes)}`,
      );
      await f.produce(10);
      await waitFor(
        'the 10 produced after the restart written',
        async () => new Set(f.written).size === 20,
        120_000,
        500,
      );
    } finally {
      await f.close();
    }
  },
);
