// The s3 destination's writer against a real S3-compatible server (the stack's moto), files read
// back with DuckDB: the key layout, rolling by size and age, the offsets to commit, a crash between
// upload and commit (the restart recognises the file from its key and writes nothing twice), the
// Parquet column types, JSON Lines, server-side encryption, and a value Parquet cannot hold.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import type { ColumnInfo, Envelope } from '../../core/change-event';
import { destinationModule } from '../../connectors';
import type { DestinationWriter } from '../../connectors/module';
import { s3Client } from '../../connectors/destination-s3/writer';
import { BucketReader, freshBucket, s3Config, startS3 } from '../s3-helpers';
import { sleep } from '../dataplane/harness';

const cols: ColumnInfo[] = [
  { name: 'id', type: 'integer', oid: 23, key: true },
  { name: 'n', type: 'numeric(30,10)', oid: 1700, key: false },
  { name: 'big', type: 'numeric', oid: 1700, key: false },
  { name: 'ts', type: 'timestamp with time zone', oid: 1184, key: false },
  { name: 'd', type: 'date', oid: 1082, key: false },
  { name: 'by', type: 'bytea', oid: 17, key: false },
  { name: 'j', type: 'jsonb', oid: 3802, key: false },
  { name: 't', type: 'text', oid: 25, key: false },
];
const HOUR = Date.UTC(2026, 0, 2, 3, 15); // dt=2026-01-02/hr=03
const source = { lsn: '0/1', tx_id: 1, ts_ms: HOUR, schema: 'public', table: 'items', snapshot: false };
const row = (id: number) => ({
  id,
  n: `${id}.5000000000`,
  big: '1e40',
  ts: '2024-01-01 12:00:00.5+05:30',
  d: '0044-03-15 BC',
  by: '\\x00ff10',
  j: '{"k": [1, 2.50]}',
  t: `row ${id}`,
});
const env = (id: number, op: Envelope['op'] = 'c'): Envelope => ({
  op,
  before: op === 'd' ? { id } : null,
  after: op === 'd' ? null : row(id),
  source,
  columns: cols,
  ts_ms: HOUR,
});
const tp = { topic: 'p.public.items', partition: 0 };
const tableFor = (s: string, t: string) => `${s}.${t}`;

let endpoint = '';
const open: DestinationWriter[] = [];
function writer(cfg: Record<string, unknown>): DestinationWriter {
  const w = destinationModule('s3').writer({
    pipelineId: '00000000-0000-0000-0000-000000000001',
    cfg,
    mode: 'append',
    log: pino({ level: 'silent' }),
    concurrency: 2,
  });
  open.push(w);
  return w;
}
const offsets = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i));
const envs = (from: number, n: number) => Array.from({ length: n }, (_, i) => env(from + i));

before(async () => {
  endpoint = await startS3();
});
after(async () => {
  for (const w of open) await w.close();
});

describe('s3 writer', () => {
  test(
    'a file per roll, under ' +
      '<prefix>/<table>/dt=/hr=/<first>-<last>.parquet; settle reports the ' +
      'offset to commit',
    async () => {
      const bucket = await freshBucket(endpoint);
      const w = writer(s3Config(endpoint, bucket));
      await w.write(envs(0, 50), offsets(0, 50), tableFor, tp);
      assert.equal(await w.buffered!.settle(tp, '50', false), '0', 'nothing durable yet: commit nothing past offset 0');
      assert.equal(await w.buffered!.settle(tp, '50', true), '50');
      // Offsets 50..59 went to the DLQ (never handed over): the next file starts at 60, and the commit covers them.
      await w.write(envs(60, 40), offsets(60, 40), tableFor, tp);
      assert.equal(await w.buffered!.settle(tp, '100', true), '100');
      const r = new BucketReader(endpoint, bucket);
      try {
        assert.deepEqual((await r.keys('public.items')).sort(), [
          'lake/public.items/dt=2026-01-02/hr=03/0-49.parquet',
          'lake/public.items/dt=2026-01-02/hr=03/60-99.parquet',
        ]);
      } finally {
        r.close();
      }
    },
  );

  test(
    'a crash between upload and commit: the restarted writer finds the ' +
      'file by its key and writes none of its rows again',
    async () => {
      const bucket = await freshBucket(endpoint);
      const cfg = s3Config(endpoint, bucket);
      const first = writer(cfg);
      await first.write(envs(0, 100), offsets(0, 100), tableFor, tp);
      assert.equal(await first.buffered!.settle(tp, '100', true), '100'); // uploaded; the crash comes before the commit
      await first.write(envs(100, 20), offsets(100, 20), tableFor, tp); // buffered only: lost in the crash
      // The new owner reads again from the committed offset 0.
      const second = writer(cfg);
      await second.write(envs(0, 150), offsets(0, 150), tableFor, tp);
      assert.equal(await second.buffered!.settle(tp, '150', false), '100', 'offsets 0..99 are in the bucket already');
      assert.equal(await second.buffered!.settle(tp, '150', true), '150');
      const r = new BucketReader(endpoint, bucket);
      try {
        assert.deepEqual((await r.keys('public.items')).map((k) => k.split('/').pop()).sort(), [
          '0-99.parquet',
          '100-149.parquet',
        ]);
        const [c] = await r.query(
          `SELECT count(*)::INT AS n, count(DISTINCT _sluice_offset)::INT AS d, min(_sluice_offset)::INT ` +
            `AS lo, max(_sluice_offset)::INT AS hi FROM ${await r.source('public.items')}`,
        );
        assert.deepEqual(c, { n: 150, d: 150, lo: 0, hi: 149 });
      } finally {
        r.close();
      }
    },
  );

  test('files roll by size and by age', async () => {
    const bucket = await freshBucket(endpoint);
    const w = writer(s3Config(endpoint, bucket, { max_file_bytes: 4096, max_file_age_ms: 1000 }));
    await w.write(envs(0, 5), offsets(0, 5), tableFor, tp); // ~1 KiB
    assert.equal(await w.buffered!.settle(tp, '5', false), '0', 'small and young: still buffered');
    await w.write(envs(5, 30), offsets(5, 30), tableFor, tp); // past 4 KiB
    assert.equal(await w.buffered!.settle(tp, '35', false), '35', 'rolled by size');
    await w.write(envs(35, 2), offsets(35, 2), tableFor, tp);
    assert.equal(await w.buffered!.settle(tp, '37', false), '35');
    await sleep(1100);
    assert.equal(await w.buffered!.settle(tp, '37', false), '37', 'rolled by age');
  });

  test(
    'columns are typed from the envelope types; the append metadata ' +
      'columns are there; deletes and truncates are rows of the log',
    async () => {
      const bucket = await freshBucket(endpoint);
      const w = writer(s3Config(endpoint, bucket));
      await w.write(
        [env(1), env(2), env(1, 'd'), { ...env(0, 't'), before: null, after: null, columns: [] }],
        offsets(7, 4),
        tableFor,
        tp,
      );
      await w.buffered!.settle(tp, '11', true);
      const r = new BucketReader(endpoint, bucket);
      try {
        const from = await r.source('public.items');
        const types = Object.fromEntries(
          (await r.query(`DESCRIBE SELECT * FROM ${from}`)).map((x) => [x.column_name, x.column_type]),
        );
        assert.deepEqual(types, {
          id: 'INTEGER',
          n: 'DECIMAL(30,10)',
          big: 'VARCHAR',
          ts: 'TIMESTAMP WITH TIME ZONE',
          d: 'DATE',
          by: 'BLOB',
          j: 'JSON',
          t: 'VARCHAR',
          _sluice_op: 'VARCHAR',
          _sluice_source_ts: 'TIMESTAMP WITH TIME ZONE',
          _sluice_offset: 'BIGINT',
          _sluice_ingested_at: 'TIMESTAMP WITH TIME ZONE',
        });
        const rows =
          await r.query(`SELECT _sluice_op AS op, _sluice_offset::INT AS o, id, n::VARCHAR AS n, big, ts::VARCHAR AS
          ts, d::VARCHAR AS d, hex("by") AS hex, j::VARCHAR AS j,
        _sluice_source_ts::VARCHAR AS src, _sluice_ingested_at IS NOT NULL AS ing FROM ${from} ORDER BY o`);
        assert.deepEqual(rows[0], {
          op: 'c',
          o: 7,
          id: 1,
          n: '1.5000000000',
          big: '1e40',
          ts: '2024-01-01 06:30:00.5+00',
          d: '0044-03-15 (BC)',
          hex: '00FF10',
          j: '{"k": [1, 2.50]}',
          src: '2026-01-02 03:15:00+00',
          ing: true,
        });
        assert.deepEqual(
          rows.map((x) => [x.op, x.id]),
          [
            ['c', 1],
            ['c', 2],
            ['d', 1],
            ['t', null],
          ],
        );
      } finally {
        r.close();
      }
    },
  );

  test(
    'a value the Parquet type cannot hold is a rejected record (DLQ class ' +
      's3_unrepresentable_value), not a failed file',
    async () => {
      const w = writer(s3Config(endpoint, await freshBucket(endpoint)));
      const bad = { ...env(9), after: { ...row(9), n: 'NaN' } };
      await assert.rejects(w.write([env(8), bad], ['0', '1'], tableFor, tp), (e: Error) => {
        assert.equal(w.isConnectionError(e), false);
        assert.equal(w.errorClass(e), 's3_unrepresentable_value');
        assert.match(e.message, /column n: the value "NaN" cannot be stored as Parquet DECIMAL\(30,10\)/);
        return true;
      });
      assert.equal(
        await w.buffered!.settle(tp, '0', true),
        '0',
        'all or nothing: the good record of the batch was not taken either',
      );
    },
  );

  test('JSON Lines files, and server-side encryption requested per file', async () => {
    const bucket = await freshBucket(endpoint);
    const cfg = s3Config(endpoint, bucket, { format: 'jsonl', server_side_encryption: 'AES256' });
    const w = writer(cfg);
    await w.write(envs(0, 3), offsets(0, 3), tableFor, tp);
    await w.buffered!.settle(tp, '3', true);
    const r = new BucketReader(endpoint, bucket);
    const s3 = s3Client(cfg as never);
    try {
      const [key] = await r.keys('public.items');
      assert.equal(key, 'lake/public.items/dt=2026-01-02/hr=03/0-2.jsonl');
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ServerSideEncryption, 'AES256');
      const rows = await r.query(
        `SELECT id, n, _sluice_op, _sluice_offset FROM ${await r.source('public.items')} ORDER BY _sluice_offset`,
      );
      assert.deepEqual(
        rows.map((x) => [Number(x.id), String(x.n), x._sluice_op, Number(x._sluice_offset)]),
        [
          [0, '0.5000000000', 'c', 0],
          [1, '1.5000000000', 'c', 1],
          [2, '2.5000000000', 'c', 2],
        ],
      );
    } finally {
      r.close();
      s3.destroy();
    }
  });
});
