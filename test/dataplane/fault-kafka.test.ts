// Scenario c: the Kafka broker is killed (SIGKILL) and restarted: the source stops acknowledging
// (the slot's confirmed LSN holds still while WAL grows), nothing is lost.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from './harness';
import { EVENTS_DDL, kafkaIsOurs, kafkaOutage, withLocalKafka } from './scenarios';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl: EVENTS_DDL });
  workers.push(spawnWorker(s.api));
});
after(async () => { if (kafkaIsOurs) await withLocalKafka((stack) => stack.startService('kafka')).catch(() => undefined); await teardown(s, workers); });

test('c. Kafka killed and restarted: LSN not acknowledged during the outage, nothing lost', { skip: kafkaIsOurs ? false : 'Kafka is external (KAFKA_BROKERS): not ours to kill' }, () => kafkaOutage(s));
