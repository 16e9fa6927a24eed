// Scenario c, Postgres -> MariaDB: the Kafka broker is killed and restarted; nothing is lost.
import { after, before, test } from 'node:test';
import { setupPipeline, Setup, spawnWorker, teardown, Worker } from '../dataplane/harness';
import { EVENTS_DDL, kafkaIsOurs, kafkaOutage, withLocalKafka } from '../dataplane/scenarios';
import { freshMysqlDatabase } from '../mysql-helpers';

let s: Setup;
const workers: Worker[] = [];
before(async () => {
  s = await setupPipeline({ ddl: EVENTS_DDL, dstUrl: await freshMysqlDatabase('dst_fc'), destinationKind: 'mysql' });
  workers.push(spawnWorker(s.api));
});
after(async () => { if (kafkaIsOurs) await withLocalKafka((stack) => stack.startService('kafka')).catch(() => undefined); await teardown(s, workers); });

test('c. Kafka killed and restarted (Postgres -> MariaDB): LSN not acknowledged during the outage, nothing lost', { skip: kafkaIsOurs ? false : 'Kafka is external (KAFKA_BROKERS): not ours to kill' }, () => kafkaOutage(s));
