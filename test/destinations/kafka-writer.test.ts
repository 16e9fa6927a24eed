// The kafka destination's writer against the stack's second broker, through its SASL/PLAIN
// listener: keys, both envelopes (Sluice's, with the column header; Debezium's field names and op
// codes), tombstones after deletes, topics created with the configured partitions, and a login
// refused being a connection error (retried, Broken), not a rejected record.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { ColumnInfo, Envelope } from '../../core/change-event';
import { destinationModule } from '../../connectors';
import type { DestinationWriter } from '../../connectors/module';
import { debeziumValue, lsnNumber } from '../../connectors/destination-kafka/envelope';
import { kafkajs } from '../../patches';
import { Kafka2, startKafka2 } from '../kafka2-helpers';
import { topicRecords } from '../dataplane/harness';

const cols: ColumnInfo[] = [
  { name: 'id', type: 'integer', oid: 23, key: true },
  { name: 'v', type: 'numeric(12,2)', oid: 1700, key: false },
];
const pgSource = { lsn: '1/A0', tx_id: 771, ts_ms: 1700000000000, schema: 'public', table: 'orders', snapshot: false };
const env = (op: Envelope['op'], id: number, v: string | null): Envelope => ({
  op,
  before: op === 'd' || op === 'u' ? { id, v: '1.00' } : null,
  after: op === 'd' ? null : { id, v },
  source: pgSource,
  columns: cols,
  ts_ms: 1700000000123,
});
const tp = { topic: 'shop.public.orders', partition: 0 };

let k: Kafka2;
const writers: DestinationWriter[] = [];
const writer = (cfg: Record<string, unknown>) => {
  const w = destinationModule('kafka').writer({
    pipelineId: '00000000-0000-0000-0000-000000000002',
    cfg,
    mode: 'upsert',
    log: pino({ level: 'silent' }),
    concurrency: 2,
  });
  writers.push(w);
  return w;
};
const login = () => ({
  bootstrap_servers: k.saslBrokers,
  sasl_mechanism: 'plain',
  sasl_username: k.saslUser,
  sasl_password: k.saslPassword,
});

before(async () => {
  k = await startKafka2();
});
after(async () => {
  for (const w of writers) await w.close();
});

describe('kafka writer', () => {
  test(
    'Sluice envelope: keyed by primary key, a tombstone after a delete, ' + 'the topic created with its partitions',
    async () => {
      const prefix = `kw${crypto.randomBytes(3).toString('hex')}`;
      const w = writer({ ...login(), table_name_format: `${prefix}.{schema}.{table}`, topic_partitions: 3 });
      await w.write(
        [env('c', 1, '9.50'), env('u', 1, '10.00'), env('d', 1, null)],
        ['0', '1', '2'],
        (s, t) => `${prefix}.${s}.${t}`,
        tp,
      );
      const topic = `${prefix}.public.orders`;
      const recs = await topicRecords(topic, k.brokers);
      assert.deepEqual(
        recs.map((r) => [r.key, r.env?.op ?? null]),
        [
          ['{"id":1}', 'c'],
          ['{"id":1}', 'u'],
          ['{"id":1}', 'd'],
          ['{"id":1}', null],
        ],
      );
      assert.deepEqual(recs[1].env.after, { id: 1, v: '10.00' });
      const admin = new (kafkajs().Kafka)({ brokers: k.brokers, logLevel: 0 }).admin();
      await admin.connect();
      try {
        assert.equal((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length, 3);
      } finally {
        await admin.disconnect();
      }
    },
  );

  test(
    'Debezium envelope: {before, after, source, op, ts_ms} with the ' + "PostgreSQL connector's source fields",
    async () => {
      const prefix = `kd${crypto.randomBytes(3).toString('hex')}`;
      const w = writer({ ...login(), envelope: 'debezium', tombstones: false, table_name_format: `${prefix}.{table}` });
      await w.write(
        [env('r', 2, '1.00'), env('u', 2, '2.00'), env('d', 2, null)],
        ['5', '6', '7'],
        (_s, t) => `${prefix}.${t}`,
        tp,
      );
      const recs = await topicRecords(`${prefix}.orders`, k.brokers);
      assert.deepEqual(
        recs.map((r) => r.env.op),
        ['r', 'u', 'd'],
        'no tombstone when tombstones = false',
      );
      assert.deepEqual(recs[1].env, {
        before: { id: 2, v: '1.00' },
        after: { id: 2, v: '2.00' },
        op: 'u',
        ts_ms: 1700000000123,
        transaction: null,
        source: {
          version: 'sluice',
          connector: 'postgresql',
          name: 'shop',
          ts_ms: 1700000000000,
          snapshot: 'false',
          db: null,
          sequence: JSON.stringify([null, String(2 ** 32 + 160)]),
          schema: 'public',
          table: 'orders',
          txId: 771,
          lsn: 2 ** 32 + 160,
          xmin: null,
        },
      });
      assert.equal(recs[2].env.after, null);
    },
  );

  test("the MySQL connector's source block for a change from a MySQL source", () => {
    const e: Envelope = {
      ...env('c', 3, '1.00'),
      source: {
        lsn: 'x',
        tx_id: null,
        ts_ms: 5,
        schema: 'shop',
        table: 'orders',
        snapshot: 'last',
        gtid: '0-1-42',
        file: 'bin.000003',
        pos: 1234,
      },
    };
    const v = debeziumValue(e, 'srv') as { source: Record<string, unknown> };
    assert.deepEqual(v.source, {
      version: 'sluice',
      connector: 'mysql',
      name: 'srv',
      ts_ms: 5,
      snapshot: 'last',
      db: 'shop',
      sequence: null,
      table: 'orders',
      server_id: 0,
      gtid: '0-1-42',
      file: 'bin.000003',
      pos: 1234,
      row: 0,
      thread: null,
      query: null,
    });
    assert.equal(lsnNumber('0/16B3748'), 0x16b3748);
  });

  test('a refused login is a connection error (retried without limit), with no password in the message', async () => {
    const w = writer({ ...login(), sasl_password: 'wrong-password-for-test' });
    await assert.rejects(
      w.write([env('c', 4, '1.00')], ['0'], (s, t) => `kx.${s}.${t}`, tp),
      (e: Error) => {
        assert.equal(w.isConnectionError(e), true);
        assert.ok(!e.message.includes('wrong-password-for-test') && !e.message.includes(k.saslPassword), e.message);
        return true;
      },
    );
  });
});
