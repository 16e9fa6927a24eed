import crypto from 'node:crypto';
import { deleteTopicRecords, kafka2Stack, startKafka2, topicLatest } from '../../kafka2-helpers';
import { DestinationKit, REJECTS_NOTHING } from '.';

/** The topics of a row are `<prefix>.<table>`; its url is `kafka://<prefix>`. */
const topicOf = (url: string, table: string) => `${new URL(url).host}.${table}`;

/**
 * The stack's second Kafka broker; each row writes its own topics (`<prefix>.<table>`), through the
 * SASL/PLAIN listener, in the Debezium envelope (the kafka destination's other envelope is Sluice's
 * own, as the pipeline's topics carry it). The outage stops the broker.
 */
export const destinationKafka: DestinationKit = {
  kind: 'kafka',
  database: async (stoppable) => {
    const k = await startKafka2();
    const prefix = `dk${crypto.randomBytes(3).toString('hex')}`;
    return {
      url: `kafka://${prefix}`,
      config: {
        bootstrap_servers: k.saslBrokers,
        sasl_mechanism: 'plain',
        sasl_username: k.saslUser,
        sasl_password: k.saslPassword,
        envelope: 'debezium',
        table_name_format: `${prefix}.{table}`,
      },
      outage: stoppable
        ? { stop: () => kafka2Stack.stopService('kafka-2'), start: () => kafka2Stack.startService('kafka-2') }
        : undefined,
      destroy: async () => {
        if (stoppable) await kafka2Stack.startService('kafka-2').catch(() => undefined);
      },
    };
  },
  rows: async (url, table, cols, key, where) => {
    if (where) throw new Error(`the kafka kit reads whole topics; a filter (${where}) is not supported`);
    return topicLatest((await startKafka2()).brokers, topicOf(url, table), cols, key);
  },
  rejectNegative: async () => REJECTS_NOTHING,
  truncate: async (url, table) => deleteTopicRecords((await startKafka2()).brokers, topicOf(url, table)),
};
