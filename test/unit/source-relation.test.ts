// Column types of a Postgres source come from the Relation message (type oid + modifier), not from
// the table's catalog: a walsender can send a transaction an instant before other sessions see it,
// so a column that the transaction itself added can be missing from the catalog (3 times in 300
// ALTER TABLE ... ADD COLUMN + INSERT transactions on the test stack; it then came out as text).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { PostgresqlSource } from '../../connectors/source-postgresql/source';

test(
  'a column missing from a lagging catalog still gets its declared type ' +
    "(format_type of the message's oid and modifier)",
  async () => {
    const runner = new PostgresqlSource({
      pipelineId: 'p',
      sourceId: 's',
      cfg: {},
      offsets: {} as never,
      log: pino({ level: 'silent' }),
    });
    const asked: [number, number][] = [];
    (runner as any).meta = {
      query: async (sql: string, params: unknown[]) => {
        if (/format_type\(\$1::oid/.test(sql)) {
          const [oid, mod] = params as [number, number];
          asked.push([oid, mod]);
          return {
            rows: [
              { t: oid === 1700 && mod === 655366 ? 'numeric(10,2)' : oid === 23 ? 'integer' : 'text', known: true },
            ],
          };
        }
        // The catalog as another session may still see it: without the column the transaction added.
        return { rows: [{ name: 'id', oid: 23, type: 'integer', key: true }] };
      },
    };
    const msg = {
      relationOid: 42,
      replicaIdentity: 'default',
      columns: [
        { name: 'id', typeOid: 23, typeMod: -1, flags: 1 },
        { name: 'price', typeOid: 1700, typeMod: 655366, flags: 0 },
      ],
    };
    const cols = await (runner as any).relationColumns(msg, true);
    assert.deepEqual(cols, [
      { name: 'id', oid: 23, type: 'integer', key: true },
      { name: 'price', oid: 1700, type: 'numeric(10,2)', key: false },
    ]);
    // Type names are cached per (oid, modifier).
    await (runner as any).relationColumns(msg, true);
    assert.equal(asked.length, 2);
  },
);
