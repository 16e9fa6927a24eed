// The MySQL destination's type mapping and value conversion at their edges (pure functions; the
// round trip through real processes is in dest-stream.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mysqlColumnType, toMysqlParam, toUtcDatetime } from '../../connectors/destination-mysql/writer';

test('column types: exact where MySQL can hold every value, text otherwise; key columns stay indexable', () => {
  const t = (type: string, key = false) => mysqlColumnType({ type, key });
  assert.equal(t('numeric(65,30)'), 'DECIMAL(65,30)');
  assert.equal(t('numeric(20,0)'), 'DECIMAL(20,0)'); // a MySQL bigint unsigned, as the MySQL source describes it
  for (const wide of ['numeric(66,2)', 'numeric(10,31)', 'numeric(3,-2)', 'numeric(2,5)', 'numeric'])
    assert.equal(t(wide), 'LONGTEXT', wide);
  assert.equal(t('numeric', true), 'VARCHAR(255)');
  assert.equal(t('character varying(16383)'), 'VARCHAR(16383)');
  assert.equal(t('character varying(16384)'), 'LONGTEXT');
  assert.equal(t('character varying(1000)', true), 'VARCHAR(768)');
  assert.equal(t('character(3)'), 'VARCHAR(3)');
  assert.equal(t('text', true), 'VARCHAR(255)');
  assert.equal(t('bytea', true), 'VARBINARY(767)');
  assert.equal(t('timestamp(3) with time zone'), 'DATETIME(3)');
  assert.equal(t('timestamp(0) without time zone'), 'DATETIME(0)');
  assert.equal(t('time(3) without time zone'), 'TIME(3)');
  assert.equal(t('time with time zone'), 'LONGTEXT');
  assert.equal(t('integer[]'), 'LONGTEXT');
  assert.equal(t('public.mood'), 'LONGTEXT');
  assert.equal(t('mood', true), 'VARCHAR(255)');
  assert.equal(t('double precision'), 'DOUBLE');
  assert.equal(t('real'), 'FLOAT');
});

test(
  'timestamps with an offset become UTC DATETIME literals; fractions ' +
    'kept exactly; others left for the server to judge',
  () => {
    assert.equal(toUtcDatetime('2024-01-01 00:30:00.123456+05:30'), '2023-12-31 19:00:00.123456');
    assert.equal(toUtcDatetime('2024-02-28 23:00:00-01'), '2024-02-29 00:00:00');
    assert.equal(toUtcDatetime('2024-03-01T00:00:00.5Z'), '2024-03-01 00:00:00.5');
    assert.equal(toUtcDatetime('1900-01-01 00:00:00+00:19:32'), '1899-12-31 23:40:28');
    assert.equal(toUtcDatetime('0099-06-01 12:00:00+00'), '0099-06-01 12:00:00');
    assert.equal(toUtcDatetime('2024-01-01 12:00:00'), '2024-01-01 12:00:00');
    assert.equal(toUtcDatetime('0044-03-15 12:00:00+00 BC'), '0044-03-15 12:00:00+00 BC');
    assert.equal(toUtcDatetime('infinity'), 'infinity');
  },
);

test('parameters: bytea hex decoded, timestamptz in UTC, timestamp T separator, JSON objects as text, NULLs', () => {
  assert.deepEqual(toMysqlParam('\\x00ff10', 'bytea'), Buffer.from([0, 255, 16]));
  assert.deepEqual(toMysqlParam('\\x', 'bytea'), Buffer.alloc(0));
  assert.equal(toMysqlParam('2024-01-01 12:00:00+02', 'timestamp(3) with time zone'), '2024-01-01 10:00:00');
  assert.equal(toMysqlParam('2024-01-01T12:00:00', 'timestamp without time zone'), '2024-01-01 12:00:00');
  assert.equal(toMysqlParam('{"n": 1.0}', 'jsonb'), '{"n": 1.0}');
  assert.equal(toMysqlParam({ a: [1] }, 'jsonb'), '{"a":[1]}');
  assert.equal(toMysqlParam('9007199254740993', 'bigint'), '9007199254740993');
  assert.equal(toMysqlParam(null, 'text'), null);
  assert.equal(toMysqlParam(undefined, 'text'), null);
  assert.equal(toMysqlParam(true, 'boolean'), true);
});
