// test-lane: exclusive (kills the stack Kafka; test/run.sh runs it alone)
// c. The Kafka broker is killed and restarted: the source stops acknowledging its position while
// Kafka is down, nothing is lost.
import { after, test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { kafkaIsOurs, kafkaOutage, withLocalKafka } from './scenarios';

after(async () => {
  if (kafkaIsOurs) await withLocalKafka((stack) => stack.startService('kafka')).catch(() => undefined);
});

for (const row of rowsWith('c')) {
  onRow(row, {}, (run) => {
    test(
      'c. Kafka killed and restarted: the position is not acknowledged during the outage, nothing lost',
      { skip: kafkaIsOurs ? false : 'Kafka is external (KAFKA_BROKERS): not ours to kill' },
      () => kafkaOutage(run().s),
    );
  });
}
