// MySQL/MariaDB -> Kafka -> Postgres under the data-plane faults (test/dataplane/scenarios.ts):
// a. destination stopped, c. Kafka killed, f. poison records. Steady write load on the source,
// destination == source at the end.
import { after, test } from 'node:test';
import { q, setupPipeline, Setup, spawnWorker, teardown, Worker } from '../dataplane/harness';
import { PgInstance } from '../dataplane/pg-instance';
import { MYSQL_EVENTS_DDL, POISON_TRANSFORM, destinationOutage, kafkaIsOurs, kafkaOutage, poisonAndReplay, withLocalKafka } from '../dataplane/scenarios';

const workers: Worker[] = [];
const setups: Setup[] = [];
let dest: PgInstance | undefined;
after(async () => {
  if (kafkaIsOurs) await withLocalKafka((stack) => stack.startService('kafka')).catch(() => undefined);
  await teardown(undefined, workers);
  for (const s of setups) await teardown(s, []);
  await dest?.destroy();
});

async function pipeline(opts: Parameters<typeof setupPipeline>[0]): Promise<Setup> {
  const s = await setupPipeline({ ...opts, sourceKind: 'mysql' });
  setups.push(s);
  return s;
}

test('a. destination stopped: Broken, buffered, delivered after restart, DLQ empty', async () => {
  dest = await PgInstance.withDatabase('dst');
  const s = await pipeline({ ddl: MYSQL_EVENTS_DDL, dstUrl: dest.urlFor('dst') });
  workers.push(spawnWorker(s.api));
  await destinationOutage(s, dest);
});

test('c. Kafka killed and restarted: the GTID position is not persisted during the outage, nothing lost', { skip: kafkaIsOurs ? false : 'Kafka is external (KAFKA_BROKERS): not ours to kill' }, async () => {
  const s = await pipeline({ ddl: MYSQL_EVENTS_DDL });
  workers.push(spawnWorker(s.api));
  await kafkaOutage(s);
});

test('f. poison records: DLQ after max_retries, the rest flows, replay after the fix delivers them', async () => {
  const s = await pipeline({ ddl: MYSQL_EVENTS_DDL, transforms: [POISON_TRANSFORM], pipeline: { delivery: { max_retries: 3, backoff_initial_ms: 50, backoff_max_ms: 200 } } });
  // The destination rejects negative values: a constraint the source does not have.
  await q(s.dstUrl, `CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL CHECK (v >= 0), note character varying(100))`);
  workers.push(spawnWorker(s.api));
  await poisonAndReplay(s);
});
