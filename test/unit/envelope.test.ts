import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ColumnInfo, Envelope, encodeEnvelope, kafkaKey, keyString } from '../../core/change-event';

/** encodeEnvelope / kafkaKey / keyString build JSON by hand: the bytes must be what JSON.stringify gives. */
const cols: ColumnInfo[] = [
  { name: 'id', type: 'bigint', oid: 20, key: true },
  { name: 'région "x"', type: 'text', oid: 25, key: true },
  { name: 'n', type: 'numeric', oid: 1700, key: false },
];
const rows: Record<string, unknown>[] = [
  { id: 1, 'région "x"': 'a\u2028b\n"\\', n: '1.50' },
  { id: '9007199254740993', 'région "x"': null, n: null },
  { id: 3, n: 'x' }, // a key column absent (unchanged TOAST): null in keys
  { id: -0, 'région "x"': '😀', n: true },
];
const reference = (env: Envelope) => {
  const { columns: _c, ...value } = env;
  return JSON.stringify(value);
};

describe('envelope encoding', () => {
  it('encodeEnvelope gives the bytes of JSON.stringify({op, before, after, source, ts_ms})', () => {
    const sources: Envelope['source'][] = [
      { lsn: '0/16B3748', tx_id: 745, ts_ms: 1764345846123, schema: 'public', table: 'orders', snapshot: false },
      { lsn: null, tx_id: null, ts_ms: 1, schema: 'db', table: 't"q', snapshot: true, snapshot_id: 'abc' },
      {
        lsn: 'uuid:1-5',
        tx_id: null,
        ts_ms: 2,
        schema: 'db',
        table: 't',
        snapshot: false,
        gtid: 'uuid:1-5',
        file: 'bin.000001',
        pos: 4,
        snapshot_id: undefined,
      },
    ];
    for (const source of sources) {
      for (const op of ['c', 'u', 'd', 'r', 't'] as const) {
        for (const [before, after] of [
          [null, rows[0]],
          [rows[1], rows[2]],
          [rows[3], null],
          [null, null],
        ] as const) {
          const env: Envelope = { op, before, after, source, columns: cols, ts_ms: 1764345846999 };
          // Twice: the second time the source block comes from the encoder's cache.
          assert.equal(encodeEnvelope(env), reference(env));
          assert.equal(encodeEnvelope(env), reference(env));
          assert.deepEqual(JSON.parse(encodeEnvelope(env)), JSON.parse(reference(env)));
        }
      }
    }
  });

  it('leaves undefined members out, as JSON.stringify does', () => {
    const env = {
      op: 'u',
      before: undefined,
      after: rows[0],
      source: { lsn: null, tx_id: null, ts_ms: 0, schema: 's', table: 't', snapshot: false },
      columns: cols,
      ts_ms: 5,
    } as unknown as Envelope;
    assert.equal(encodeEnvelope(env), reference(env));
  });

  it('kafkaKey and keyString match JSON.stringify of the key columns', () => {
    for (const row of rows) {
      const o: Record<string, unknown> = {};
      for (const c of cols.filter((x) => x.key)) o[c.name] = row[c.name] ?? null;
      assert.equal(kafkaKey(cols, row), JSON.stringify(o));
      assert.equal(keyString(cols, row), JSON.stringify(cols.filter((c) => c.key).map((c) => row[c.name] ?? null)));
    }
    assert.equal(kafkaKey(cols, null), null);
    assert.equal(kafkaKey([{ name: 'x', type: 'text', oid: 25, key: false }], rows[0]), null);
  });
});
